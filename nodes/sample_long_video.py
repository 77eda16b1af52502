"""Sample Long Video: TCAN's windowed sampling of a whole pose sequence."""

import comfy.samplers
from comfy_api.latest import io

from ..tcan_core.comfy.long_video import preparation_steps, sample_long_video
from ..tcan_core.temporal.fusion import FUSIONS
from ..tcan_core.temporal.windows import padded_frame_indices, sliding_windows
from .progress import Progress
from .sockets import TCAN, TCANCalibration


def middle_frame_preview(model, progress):
    """Sampler callback showing the middle frame's current prediction, when ComfyUI has previews on."""
    import latent_preview

    previewer = latent_preview.get_previewer(model.load_device, model.model.latent_format)
    if previewer is None:
        return None

    def callback(step, x0, x, total_steps):
        middle = x0.shape[0] // 2  # the sampler's latents live on the offload device; previewers expect the GPU
        frame = x0[middle:middle + 1].to(model.load_device)
        progress.preview(previewer.decode_latent_to_preview_image("JPEG", frame))
    return callback


class SampleLongVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANSampleLongVideo",
            display_name="Sample Long Video (TCAN)",
            category="TCAN",
            description="Animates the reference image with the pose images, any number of frames: overlapping windows "
                        "are denoised at every step and averaged per frame (MultiDiffusion along time), each with its "
                        "own frames' ControlNet residuals and pose temperature map. One latent per pose frame out; "
                        "decode with VAE Decode.",
            inputs=[
                io.Model.Input("model", tooltip="The MODEL from Load TCAN."),
                TCAN.Input("tcan", tooltip="The tcan output of Load TCAN."),
                io.Conditioning.Input("positive", tooltip="Text prompt for the video (CLIP Text Encode). TCAN: empty; "
                                                          "a short description of the person and scene may help."),
                io.Conditioning.Input("negative", tooltip="Negative prompt: what classifier-free guidance steers away "
                                                          "from. TCAN: empty."),
                io.Vae.Input("vae", tooltip="The checkpoint's VAE: encodes the reference image (and TPC's calibrated "
                                            "references) into latents. Decode the output with the same VAE."),
                io.Image.Input("reference_image", tooltip="The person to animate. Scaled to cover the pose frames' size "
                                                         "and centre-cropped if its aspect differs."),
                io.Image.Input("pose_images", tooltip="Rendered poses, one per output frame (Render Pose)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="Initial noise; the same seed gives the same video, and adding frames keeps the "
                                     "noise of earlier frames. TCAN's script has no fixed seed."),
                io.Int.Input("steps", default=25, min=1, max=1000,
                             tooltip="Denoising steps; every step runs every window once. TCAN: 25."),
                io.Float.Input("cfg", default=7.5, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale (how strongly positive beats negative, applied "
                                       "after the windows are averaged). TCAN: 7.5."),
                io.Combo.Input("sampler_name", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                               tooltip="euler = DDIM with eta 0, TCAN's sampler."),
                io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="ddim_uniform",
                               tooltip="ddim_uniform gives TCAN's DDIM timesteps."),
                io.Int.Input("window_length", default=16, min=1, max=32,
                             tooltip="Frames the motion modules see at once (at most the module's 24/32-frame "
                                     "position encoding). TCAN: 16."),
                io.Int.Input("overlap", default=4, min=0, max=31,
                             tooltip="Frames shared by neighbouring windows, averaged at every step so the windows "
                                     "join without seams; must be smaller than window_length. TCAN: 4."),
                io.Boolean.Input("closed_loop", default=False,
                                 tooltip="TCAN wraps the last window to the first frames; only right for looping "
                                         "motion, otherwise the end and the start of the clip get mixed."),
                io.Combo.Input("fusion", options=list(FUSIONS), default="uniform",
                               tooltip="uniform: TCAN's plain average; weighted: favour window centres to hide seams."),
                io.Float.Input("controlnet_strength", default=1.0, min=0.0, max=10.0, step=0.01,
                               tooltip="Scale of the pose ControlNet's residuals: lower follows the poses more "
                                       "loosely, 0 ignores them. TCAN: 1."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="Share of the noise schedule to run: 1 starts from pure noise (TCAN); lower "
                                       "values keep more of the optional input latent."),
                io.Boolean.Input("repeat_window_noise", default=False,
                                 tooltip="Repeat one window's initial noise along the clip, as TCAN does."),
                io.Latent.Input("latent", optional=True, tooltip="Optional initial latents (one per pose frame)."),
                TCANCalibration.Input("calibration", optional=True,
                                      tooltip="TPC: Procrustes Calibrate's output for the same pose sequence; each "
                                              "frame also attends to its calibrated reference (propagated per group)."),
                io.Boolean.Input("tpc_attention_masks", default=False, optional=True,
                                 tooltip="With a calibration: the public TPC code's attention masks. Pixels on the "
                                         "driving person see only the calibrated person; background pixels see only "
                                         "the reference's background. Off: the paper (no masks). Costs a second "
                                         "attention in the mid/up blocks."),
                io.Float.Input("ptm_tau", default=-1.0, min=-1.0, max=20.0, step=0.1, optional=True,
                               tooltip="Pose-driven temperature map strength for this run: -1 keeps Load TCAN's "
                                       "(TCAN: 3); 0 turns PTM off."),
                io.Boolean.Input("pad_to_window", default=True, optional=True,
                                 tooltip="As TCAN: extend the clip to a multiple of window_length by repeating the "
                                         "last pose, so every window and ControlNet chunk is as long as in training; "
                                         "the extra frames are dropped from the output. Off: no extra frames (a "
                                         "short clip is one shorter window)."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def execute(cls, model, tcan, positive, negative, vae, reference_image, pose_images, seed, steps, cfg, sampler_name,
                scheduler, window_length, overlap, closed_loop, fusion, controlnet_strength, denoise,
                repeat_window_noise, latent=None, calibration=None, tpc_attention_masks=False,
                ptm_tau=-1.0, pad_to_window=True) -> io.NodeOutput:
        if overlap >= window_length:
            raise ValueError(f"overlap ({overlap}) must be smaller than window_length ({window_length}); lower overlap or "
                             "raise window_length (TCAN: 16 and 4)")
        frames = max(1, pose_images.shape[0] if hasattr(pose_images, "shape") else 0)
        if pad_to_window:
            frames = len(padded_frame_indices(frames, window_length))
        windows = len(sliding_windows(frames, window_length, overlap, closed_loop))
        # the preparation (reference, TPC's images, temperature maps) shows in the bar too
        progress = Progress(preparation_steps(len(pose_images) if hasattr(pose_images, "shape") else 1, calibration)
                            + steps * windows)
        out, _ = sample_long_video(
            model, tcan, positive, negative, vae, reference_image, pose_images, seed=seed, steps=steps, cfg=cfg,
            sampler_name=sampler_name, scheduler=scheduler, window_length=window_length, overlap=overlap,
            closed_loop=closed_loop, fusion=fusion, controlnet_strength=controlnet_strength, denoise=denoise,
            latent=latent, repeat_window_noise=repeat_window_noise, calibration=calibration,
            tpc_attention_masks=tpc_attention_masks, ptm_tau=ptm_tau, pad_to_window=pad_to_window, progress=progress,
            callback=middle_frame_preview(model, progress))
        return io.NodeOutput(out)
