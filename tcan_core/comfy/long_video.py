"""Sample Long Video: TCAN's sampling of a pose sequence of any length with ComfyUI's samplers.

Orchestration only: check the inputs, pad the clip (TCAN), lay out the windows and their
temperature maps, prepare the references (the framed reference image, TPC's propagated calibrated
references), install TCAN's window loop on a clone of the MODEL, attach the temporal ControlNet
with the pose hints, and sample.
"""

import torch

from ..frame_fit import fit_image
from ..temporal.temperature import temperature_map
from ..temporal.windows import padded_frame_indices, sliding_windows
from . import window_loop
from .tpc import ENCODE_BATCH, tpc_references
from .window_context import References


def preparation_steps(frames, calibration=None):
    """Progress ticks before the first window: the reference, TPC's calibrated images (per encode batch)
    and masks, the temperature maps."""
    return 2 + (-(-frames // ENCODE_BATCH) + 1 if calibration is not None else 0)


def check_pose_images(pose_images):
    if not isinstance(pose_images, torch.Tensor) or pose_images.ndim != 4 or pose_images.shape[-1] < 3:
        raise ValueError("pose_images must be an IMAGE batch [frames, height, width, 3] (from Render Pose)")
    frames, height, width = pose_images.shape[:3]
    if height % 8 or width % 8:
        raise ValueError(f"pose images are {width}x{height}; width and height must be multiples of 8 (set them in "
                         "Render Pose)")
    return frames, height, width


def framed_reference(reference_image, height, width):
    """The reference IMAGE [1, height, width, 3] as the frames see it: fitted into the frame, centred,
    black bars where its aspect differs (frame_fit.py, the rule Render Pose and the calibration follow
    too)."""
    if not isinstance(reference_image, torch.Tensor) or reference_image.ndim != 4 or reference_image.shape[-1] < 3:
        raise ValueError("reference_image must be an IMAGE [1, height, width, 3] (e.g. from Load Image)")
    image = reference_image[0, :, :, :3].float().cpu().numpy()
    return torch.from_numpy(fit_image(image, width, height))[None]


def reference_latent(model, vae, reference_image, height, width):
    """Clean reference latent in model space, at the frames' size."""
    return model.model.process_latent_in(vae.encode(framed_reference(reference_image, height, width)))


def window_temperatures(pose_images, windows, tau):
    """Each window's PTM from its own pose frames (None everywhere when tau is 0). Frames are
    converted per window, so host memory holds no extra copy of the whole pose batch."""
    if tau <= 0:
        return [None] * len(windows)
    cache = {}
    out = []
    for window in windows:
        key = tuple(sorted(window))  # windows with the same frames share a map
        if key not in cache:
            frames = pose_images[list(window), :, :, :3]
            poses = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            cache[key] = torch.from_numpy(temperature_map(poses, tau))
        out.append(cache[key])
    return out


def with_control(positive, negative, controlnet, pose_images, strength):
    """Attach the (temporal) ControlNet with the pose hints to every cond of both prompts, chaining
    existing ones. Positive and negative share one copy (as ComfyUI's Apply ControlNet does), so
    ComfyUI can run cond and uncond in one batch."""
    copies = {}

    def attach(conditioning):
        out = []
        for tensor, options in conditioning:
            previous = options.get("control")
            if previous not in copies:
                control = controlnet.copy().set_cond_hint(pose_images[..., :3].movedim(-1, 1), strength)
                control.set_previous_controlnet(previous)
                copies[previous] = control
            out.append([tensor, {**options, "control": copies[previous], "control_apply_to_uncond": False}])
        return out

    return attach(positive), attach(negative)


def initial_noise(latent, seed, window_length, repeat_window_noise):
    """Per-frame noise from one seed; frame i's noise does not depend on the clip length. With
    repeat_window_noise (TCAN) one window's noise block is repeated along the clip."""
    import comfy.sample

    frames = latent.shape[0]
    if repeat_window_noise:
        block = comfy.sample.prepare_noise(latent[:min(window_length, frames)], seed,
                                           noise_inds=list(range(min(window_length, frames))))
        return block[[i % block.shape[0] for i in range(frames)]]
    return comfy.sample.prepare_noise(latent, seed, noise_inds=list(range(frames)))


def sample_long_video(model, bundle, positive, negative, vae, reference_image, pose_images, *, seed, steps, cfg,
                      sampler_name, scheduler, window_length=16, overlap=4, closed_loop=False, fusion="uniform",
                      controlnet_strength=1.0, denoise=1.0, latent=None, repeat_window_noise=False, calibration=None,
                      tpc_attention_masks=False, ptm_tau=None, pad_to_window=True, progress=None, callback=None,
                      sampler=None, sigmas=None, observers=()):
    """-> (LATENT {"samples": [frames, 4, h, w]}, the window loop).

    calibration: TPC's Calibration for the same pose sequence (optional); tpc_attention_masks: the
    public TPC code's attention masks (calibrated tokens for the person, reference tokens for the
    background); ptm_tau: the pose-driven temperature map's tau (None or < 0: Load TCAN's, in the
    bundle; 0: off); pad_to_window: as TCAN, extend the clip to a multiple of the window length by
    repeating its last frame (so every window and ControlNet chunk sees whole windows), and trim the
    result back; progress: optional object with step(), told preparation_steps() times while the inputs
    are prepared, then after every window; callback: the sampler's
    per-step callback(step, x0, x, total_steps) (previews); sampler, sigmas: a ComfyUI SAMPLER and
    its SIGMAS (as SamplerCustom takes them) instead of sampler_name, scheduler, steps and denoise;
    observers: callables the window loop tells after each window (window_loop.WindowStats counts)."""
    import comfy.sample

    if window_loop.uses_core_windows(model.model_options):
        raise ValueError(window_loop.CORE_WINDOWS)
    frames, height, width = check_pose_images(pose_images)
    if latent is None:
        latent_image = torch.zeros(frames, 4, height // 8, width // 8)
    else:
        latent_image = latent["samples"]
        if latent_image.shape[0] != frames or tuple(latent_image.shape[2:]) != (height // 8, width // 8):
            raise ValueError(f"the latent has {latent_image.shape[0]} frames of {latent_image.shape[3] * 8}x"
                             f"{latent_image.shape[2] * 8}; the poses have {frames} of {width}x{height}. Connect a "
                             f"latent made for these poses (e.g. Empty Latent Image with batch {frames}, {width}x"
                             f"{height}) or leave latent unconnected")
    if calibration is not None and not bundle.reference_attention:
        raise ValueError("TPC calibration feeds reference attention; turn reference_attention on in Load TCAN")
    if tpc_attention_masks and calibration is None:
        raise ValueError("tpc_attention_masks needs a calibration: connect Procrustes Calibrate's calibration")
    source = padded_frame_indices(frames, window_length) if pad_to_window else list(range(frames))
    pose_images, latent_image = pose_images[source], latent_image[source]
    windows = sliding_windows(len(source), window_length, overlap, closed_loop)
    tick = progress.step if progress is not None else (lambda: None)  # preparation_steps() ticks
    references = None
    if bundle.reference_attention:
        references = References(reference_latent(model, vae, reference_image, height, width))
    tick()
    if calibration is not None:
        references = tpc_references(model, vae, calibration, references.latents, frames, height, width, seed, source,
                                    tpc_attention_masks, on_step=tick)
    tau = bundle.ptm_tau if ptm_tau is None or ptm_tau < 0 else ptm_tau
    temperatures = window_temperatures(pose_images, windows, tau)
    tick()
    loop = window_loop.TCANWindows(windows, fusion, temperatures, references)
    loop.observers.extend(observers)
    if progress is not None:
        loop.observers.append(lambda *_: progress.step())
    patched = window_loop.install(model.clone(), loop)
    positive, negative = with_control(positive, negative, bundle.controlnet, pose_images, controlnet_strength)
    noise = initial_noise(latent_image, seed, window_length, repeat_window_noise)
    if sampler is not None:
        samples = comfy.sample.sample_custom(patched, noise, cfg, sampler, sigmas, positive, negative, latent_image,
                                             callback=callback, disable_pbar=True, seed=seed)
    else:
        samples = comfy.sample.sample(patched, noise, steps, cfg, sampler_name, scheduler, positive, negative,
                                      latent_image, denoise=denoise, callback=callback, disable_pbar=True, seed=seed)
    return {"samples": samples[:frames]}, loop
