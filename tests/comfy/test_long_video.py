"""Load TCAN (zero-shot) and Sample Long Video on random-weight SD1.5-shaped models."""

import pytest
import torch

from .helpers import flat, poses, residuals, sample_inputs, tpc_calibration
from .models import CONTROLNET, MOTION_V2, empty_conditioning, model_path, sd15

FRAMES = 40  # three windows of 16 with overlap 4


@pytest.fixture(scope="module")
def tcan(comfy_nodes):
    import comfy.controlnet
    import folder_paths

    model, clip, vae = sd15()
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    folder_paths.add_model_folder_path("animatediff_models", model_path("animatediff_models", MOTION_V2).rsplit("/", 1)[0])
    patched, bundle = comfy_nodes.NODE_CLASS_MAPPINGS["TCANLoadTCAN"].execute(
        model=model, control_net=control_net, motion_module=MOTION_V2, reference_attention=True,
        reference_for_uncond=False, temporal_controlnet=True, ptm_tau=3.0, groupnorm="auto",
        beta_schedule="sqrt_linear").args
    return model, clip, vae, control_net, patched, bundle


def run(tcan, seed=1, frames=FRAMES, **options):
    from tcan_core.comfy.long_video import sample_long_video

    model, clip, vae, _, patched, bundle = tcan
    conditioning = empty_conditioning(clip)
    reference = torch.rand(1, 80, 60, 3, generator=torch.Generator().manual_seed(0))  # other size and aspect
    defaults = dict(seed=seed, steps=2, cfg=2.0, sampler_name="euler", scheduler="ddim_uniform")
    return sample_long_video(patched, bundle, conditioning, conditioning, vae, reference, poses(frames),
                             **{**defaults, **options})


def test_forty_frames_in_three_windows_and_the_inputs_are_untouched(tcan):
    import nodes

    model, clip, _, control_net, _, _ = tcan
    conditioning = empty_conditioning(clip)
    latent = {"samples": torch.zeros(8, 4, 8, 8)}
    x, hint = sample_inputs(16)
    model_before = nodes.common_ksampler(model, 5, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]
    cn_before = flat(residuals(control_net, model, x, hint))

    from tcan_core.comfy.window_loop import WindowStats

    stats = WindowStats()
    out, windowed = run(tcan, pad_to_window=False, observers=[stats])
    samples = out["samples"]
    assert samples.shape == (FRAMES, 4, 8, 8) and torch.isfinite(samples).all()
    assert len(windowed.windows) == 3
    # UNet frame-evaluations per step and cond: 48 for 40 frames (length / (length - overlap) at most)
    assert stats.frame_evaluations == 48 * 2 * 2 and windowed.evaluations == 2
    padded, windowed = run(tcan, frames=20)  # TCAN's padding: 32 frames in 3 windows, 20 returned
    assert padded["samples"].shape[0] == 20 and windowed.windows[-1] == list(range(16, 32))

    model_after = nodes.common_ksampler(model, 5, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]
    assert torch.equal(model_before["samples"], model_after["samples"])
    assert torch.equal(cn_before, flat(residuals(control_net, model, x, hint)))


def test_same_seed_same_video_and_noise_of_earlier_frames_is_stable(tcan):
    from tcan_core.comfy.long_video import initial_noise

    a, _ = run(tcan, seed=7, frames=20)
    b, _ = run(tcan, seed=7, frames=20)
    c, _ = run(tcan, seed=8, frames=20)
    # Equal up to float rounding: ComfyUI batches cond and uncond together or apart depending on free
    # memory at the time, and CPU kernels round differently for other batch sizes.
    torch.testing.assert_close(a["samples"], b["samples"], rtol=1e-3, atol=1e-3)
    assert not torch.allclose(a["samples"], c["samples"], rtol=1e-2, atol=1e-1)
    short = initial_noise(torch.zeros(20, 4, 8, 8), 7, 16, False)
    long = initial_noise(torch.zeros(40, 4, 8, 8), 7, 16, False)
    assert torch.equal(short, long[:20])
    repeated = initial_noise(torch.zeros(40, 4, 8, 8), 7, 16, True)
    assert torch.equal(repeated[0], repeated[16]) and torch.equal(repeated[:16], long[:16])


def test_short_clips_bad_sizes_and_mismatched_latents(tcan):
    out, windowed = run(tcan, frames=5)
    assert out["samples"].shape[0] == 5 and len(windowed.windows) == 1
    with pytest.raises(ValueError, match="multiples of 8"):
        _bad_size(tcan)
    with pytest.raises(ValueError, match="the poses have"):
        run(tcan, frames=5, latent={"samples": torch.zeros(4, 4, 8, 8)})


def _bad_size(tcan):
    from tcan_core.comfy.long_video import sample_long_video

    model, clip, vae, _, patched, bundle = tcan
    conditioning = empty_conditioning(clip)
    return sample_long_video(patched, bundle, conditioning, conditioning, vae, torch.rand(1, 64, 64, 3),
                             torch.rand(3, 60, 64, 3), seed=0, steps=1, cfg=1.0, sampler_name="euler",
                             scheduler="normal")


def test_tpc_calibrated_references_join_the_attention(tcan):
    frames = 20
    calibration = tpc_calibration(frames)
    with_tpc, windowed = run(tcan, seed=2, frames=frames, calibration=calibration)
    without, _ = run(tcan, seed=2, frames=frames)
    assert torch.isfinite(with_tpc["samples"]).all()
    assert not torch.allclose(with_tpc["samples"], without["samples"], atol=1e-4)
    references = windowed.references(0)
    padded = 32  # 20 frames padded to 2 windows' worth, as TCAN
    assert references.latents.shape[0] == 1 + 4 and references.slots.shape == (padded, 2)
    assert torch.equal(references.slots[frames:], references.slots[[frames - 1] * (padded - frames)])
    # the propagation draw is seeded by the run's seed and the evaluation: the same again, another with another seed
    _, again = run(tcan, seed=2, frames=frames, calibration=calibration, steps=1)
    _, other = run(tcan, seed=5, frames=frames, calibration=calibration, steps=1)
    draws = [torch.stack([loop.references(i).latents for i in range(6)]) for loop in (windowed, again, other)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])
    patch = next(p for p in tcan[4].model_options["transformer_options"]["patches"]["attn1_patch"])
    assert patch.bank.tokens == {}  # recorded tokens go with the end of the run


def test_tpc_attention_masks_split_person_and_background(tcan):
    import dataclasses

    import numpy as np

    frames = 20
    calibration = tpc_calibration(frames)
    masked, windowed = run(tcan, seed=2, frames=frames, calibration=calibration, tpc_attention_masks=True)
    unmasked, _ = run(tcan, seed=2, frames=frames, calibration=calibration)
    assert torch.isfinite(masked["samples"]).all()
    assert not torch.allclose(masked["samples"], unmasked["samples"], atol=1e-4)
    references = windowed.references(0)
    assert references.query_masks.shape == (32, 8, 8) and references.masks.shape == (5, 8, 8)  # 20 padded to 32
    assert references.query_masks.amax() == 1 and references.query_masks.amin() == 0  # the silhouettes, not empty
    assert references.calibrated.tolist() == [False] + [True] * 4
    # Nobody in the driving frames and no person in the reference: every query is background and may
    # see all reference tokens and no calibrated token, which is plain reference attention (no TPC).
    empty = dataclasses.replace(calibration, reference_mask=np.zeros_like(calibration.reference_mask),
                                driving_masks=np.zeros((frames, 64, 64), np.float32))
    background_only, _ = run(tcan, seed=2, frames=frames, calibration=empty, tpc_attention_masks=True)
    reference_only, _ = run(tcan, seed=2, frames=frames)
    scale = reference_only["samples"].abs().max()
    torch.testing.assert_close(background_only["samples"] / scale, reference_only["samples"] / scale,
                               atol=1e-4, rtol=0)
    assert not torch.allclose(background_only["samples"], unmasked["samples"], atol=1e-4)
    with pytest.raises(ValueError, match="needs a calibration"):
        run(tcan, frames=frames, tpc_attention_masks=True)


@pytest.mark.parametrize("name", ["tcan_zero_shot.json", "tcan_tpc.json"])
def test_bundled_tcan_workflows_run_end_to_end(comfy_nodes, name):
    import glob
    import os

    import cv2

    from . import harness
    from .bundled import bundled_prompt

    prompt = bundled_prompt(name, comfy_nodes, overrides={
        "TCANLoadPoseJSON": {"frame_limit": FRAMES}, "TCANRenderPose": {"long_side": 64},  # the canvas aspect: 48x64
        "TCANSampleLongVideo": {"steps": 2}})
    harness.execute(prompt)
    videos = glob.glob(os.path.join(harness.work_dir(), "output", "tcan", name.replace(".json", "") + "*.mp4"))
    assert len(videos) == 1
    assert int(cv2.VideoCapture(videos[0]).get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES


def test_node_reports_progress_per_window_and_previews(tcan, comfy_nodes):
    import comfy.utils
    from comfy.cli_args import LatentPreviewMethod, args

    model, clip, vae, _, patched, bundle = tcan
    conditioning = empty_conditioning(clip)
    updates = []
    previous_hook, previous_method = comfy.utils.PROGRESS_BAR_HOOK, args.preview_method
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: updates.append((value, total, preview)))
    args.preview_method = LatentPreviewMethod.Latent2RGB
    try:
        node = comfy_nodes.NODE_CLASS_MAPPINGS["TCANSampleLongVideo"]
        (out,) = node.execute(model=patched, tcan=bundle, positive=conditioning, negative=conditioning, vae=vae,
                              reference_image=torch.rand(1, 64, 64, 3), pose_images=poses(20), seed=0, steps=2,
                              cfg=2.0, sampler_name="euler", scheduler="ddim_uniform", window_length=16, overlap=4,
                              closed_loop=False, fusion="weighted", controlnet_strength=1.0, denoise=1.0,
                              repeat_window_noise=False).args
    finally:
        comfy.utils.set_progress_bar_global_hook(previous_hook)
        args.preview_method = previous_method
    assert out["samples"].shape[0] == 20
    # the reference and the temperature maps while preparing, then 20 frames padded to 32: windows 0-15,
    # 12-27, 16-31, 3 windows x 2 steps
    assert [u[0] for u in updates if u[2] is None] == list(range(1, 9)) and all(u[1] == 8 for u in updates)
    assert any(u[2] is not None for u in updates)


def test_ptm_tau_of_the_run_overrides_load_tcans(tcan):
    import numpy as np

    from tcan_core.temporal.temperature import temperature_map

    pose_frames = (poses(8)[..., :3] * 255).round().to(torch.uint8).numpy()
    _, off = run(tcan, frames=8, steps=1, ptm_tau=0)
    _, stronger = run(tcan, frames=8, steps=1, ptm_tau=5.0)
    _, default = run(tcan, frames=8, steps=1, ptm_tau=-1)
    assert off.temperatures == [None]
    np.testing.assert_allclose(stronger.temperatures[0].numpy(), temperature_map(pose_frames, 5.0), rtol=1e-6)
    np.testing.assert_allclose(default.temperatures[0].numpy(), temperature_map(pose_frames, tcan[5].ptm_tau), rtol=1e-6)
