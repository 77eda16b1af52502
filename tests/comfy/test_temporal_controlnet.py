"""The temporal ControlNet on a real ComfyUI SD1.5 ControlNet (random weights)."""

import pytest
import torch

from tcan_core.temporal import load_motion_modules

from .helpers import flat, residuals, sample_inputs, window
from .models import MOTION_V2, empty_conditioning, model_path


@pytest.fixture(scope="module")
def control_parts(parts):
    """(MODEL, CLIP, the stock ControlNet, the v2 motion-module state dict)."""
    model, clip, base, state, _, _ = parts
    return model, clip, base, state


def modules_from(state, zero_out=False):
    modules = load_motion_modules(state)
    if zero_out:
        for m in modules.values():
            torch.nn.init.zeros_(m.temporal_transformer.proj_out.weight)
            torch.nn.init.zeros_(m.temporal_transformer.proj_out.bias)
    return modules


def make(base, modules, **kw):
    from tcan_core.comfy.temporal_controlnet import make_temporal_controlnet

    return make_temporal_controlnet(base, modules, **kw)


def test_zero_output_projection_gives_the_stock_residuals_exactly(control_parts):
    model, _, base, state = control_parts
    x, hint = sample_inputs(16)
    stock = residuals(base, model, x, hint)
    temporal = residuals(make(base, modules_from(state, zero_out=True)), model, x, hint)
    assert torch.equal(flat(stock), flat(temporal))


def test_random_layers_mix_frames_within_a_chunk_only(control_parts):
    model, _, base, state = control_parts
    control = make(base, modules_from(state))
    x, hint = sample_inputs(32)
    nudged = x.clone()
    nudged[0] += 1.0
    a, b = flat(residuals(control, model, x, hint)), flat(residuals(control, model, nudged, hint))
    stock_a = flat(residuals(base, model, x, hint))
    assert not torch.allclose(a, stock_a)
    assert not torch.allclose(a[5], b[5])        # same chunk as frame 0
    assert torch.equal(a[20], b[20])             # next chunk: untouched


@pytest.mark.parametrize("frames", [list(range(12, 28)), list(range(30, 37)) + list(range(0, 9))])
def test_a_window_gets_the_cached_residuals_of_its_own_frames(control_parts, frames):
    model, _, base, state = control_parts
    control = make(base, modules_from(state))
    full, hint = sample_inputs(37, seed=3)
    whole = flat(residuals(control, model, full, hint))  # chunks 0-15, 16-31, 32-36
    options = {"cond_or_uncond": [0], "tcan": window(frames, full)}
    windowed = flat(residuals(control, model, full[frames], hint, options))
    torch.testing.assert_close(windowed, whole[frames], rtol=0, atol=1e-6)


def test_under_another_handler_s_window_the_hints_follow_its_frames(control_parts):
    """A window published the core way (transformer_options["context_window"]) without TCAN's window
    context: the ControlNet runs on the window as its own clip, with those frames' pose hints."""
    import comfy.context_windows as core

    model, _, base, state = control_parts
    control = make(base, modules_from(state))
    full, hint = sample_inputs(24, seed=10)
    frames = list(range(8, 24))
    options = {"cond_or_uncond": [0], "context_window": core.IndexListContextWindow(frames)}
    windowed = flat(residuals(control, model, full[frames], hint, options))
    torch.testing.assert_close(windowed, flat(residuals(control, model, full[frames], hint[frames])), rtol=0, atol=1e-6)
    assert not torch.allclose(windowed, flat(residuals(control, model, full[frames], hint[:16])), atol=1e-4)


def test_cond_and_uncond_chunks_and_strength_zero(control_parts):
    model, _, base, state = control_parts
    control = make(base, modules_from(state))
    x, hint = sample_inputs(16, seed=4)
    both = flat(residuals(control, model, torch.cat([x, x]), hint, {"cond_or_uncond": [0, 1]}, batched=2))
    one = flat(residuals(control, model, x, hint))
    torch.testing.assert_close(both[:16], one, rtol=0, atol=1e-6)
    torch.testing.assert_close(both[16:], one, rtol=0, atol=1e-6)
    torch.testing.assert_close(flat(residuals(control, model, x, hint, strength=0.5)), one * 0.5, rtol=1e-6, atol=1e-7)
    assert not flat(residuals(control, model, x, hint, strength=0.0)).any()
    assert control.temporal_patcher in control.copy().get_models()  # ComfyUI loads the temporal weights too


def test_the_user_s_controlnet_is_unchanged(control_parts):
    model, _, base, state = control_parts
    x, hint = sample_inputs(16, seed=5)
    before = flat(residuals(base, model, x, hint))
    residuals(make(base, modules_from(state)), model, x, hint)
    after = flat(residuals(base, model, x, hint))
    assert torch.equal(before, after)
    assert not base.control_model_wrapped.get_additional_models()
    assert not base.control_model_wrapped.injections
    assert not any(type(m).__name__ == "ControlNetMotionModule" for m in base.control_model.modules())


def test_works_with_apply_controlnet_and_the_stock_ksampler(control_parts, comfy_nodes):
    import nodes

    model, clip, base, state = control_parts
    control = make(base, modules_from(state))
    conditioning = empty_conditioning(clip)
    _, hint = sample_inputs(16, seed=6)
    positive, negative = nodes.ControlNetApplyAdvanced().apply_controlnet(
        conditioning, conditioning, control, hint.movedim(1, -1), 1.0, 0.0, 1.0)
    latent = {"samples": torch.zeros(16, 4, 8, 8)}
    out = nodes.common_ksampler(model, 1, 1, 2.0, "euler", "normal", positive, negative, latent)[0]["samples"]
    plain = nodes.common_ksampler(model, 1, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.isfinite(out).all() and not torch.allclose(out, plain)


def test_node_builds_it_and_rejects_bad_files(control_parts, comfy_nodes):
    import folder_paths

    model, _, base, _ = control_parts
    folder_paths.add_model_folder_path("animatediff_models", model_path("animatediff_models", MOTION_V2).rsplit("/", 1)[0])
    node = comfy_nodes.NODE_CLASS_MAPPINGS["TCANTemporalControlNet"]
    (control,) = node.execute(base, MOTION_V2, 16).args
    assert type(control).__name__ == "TemporalControlNet" and control is not base
    with pytest.raises(ValueError, match="not found"):
        node.execute(base, "nope.ckpt", 16)


def test_bundled_pose_controlnet_workflow_runs(comfy_nodes):
    import glob
    import os

    from . import harness
    from .bundled import bundled_prompt

    prompt = bundled_prompt("pose_controlnet_clip.json", comfy_nodes, overrides={
        "EmptyLatentImage": {"width": 48, "height": 64}, "TCANRenderPose": {"width": 48, "height": 64},
        "KSampler": {"steps": 1}})
    harness.execute(prompt)
    videos = glob.glob(os.path.join(harness.work_dir(), "output", "tcan", "pose_controlnet_clip*.mp4"))
    assert len(videos) == 1 and os.path.getsize(videos[0]) > 1000
