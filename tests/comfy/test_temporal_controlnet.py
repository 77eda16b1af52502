"""The temporal ControlNet on a real ComfyUI SD1.5 ControlNet (random weights)."""

import pytest
import torch

from tcan_core.temporal import load_motion_modules

from .models import MOTION_V2, empty_conditioning, model_path, sd15

CONTROLNET = "openpose_random.safetensors"


@pytest.fixture(scope="module")
def parts(comfy_nodes):
    import comfy.controlnet
    import comfy.utils

    model, clip, _ = sd15()
    base = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    state = comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2))
    return model, clip, base, state


def modules_from(state, zero_out=False):
    modules = load_motion_modules(state)
    if zero_out:
        for m in modules.values():
            torch.nn.init.zeros_(m.temporal_transformer.proj_out.weight)
            torch.nn.init.zeros_(m.temporal_transformer.proj_out.bias)
    return modules


def residuals(control, model, x, hint, transformer_options=None, batched=1, context=None):
    import comfy.model_management

    c = control.copy().set_cond_hint(hint, 1.0)
    c.pre_run(model.model, lambda p: model.model.model_sampling.percent_to_sigma(p))
    comfy.model_management.load_models_gpu(c.get_models())
    sigma = torch.full((x.shape[0],), 2.0)
    context = torch.zeros(x.shape[0], 77, 768) if context is None else context
    with torch.no_grad():
        out = c.get_control(x, sigma, {"c_crossattn": context}, batched, transformer_options or {})
    c.cleanup()
    return out


def flat(out):
    return torch.cat([t.flatten(1) for key in ("output", "middle") for t in out[key] if t is not None], dim=1)


def sample_inputs(frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, 4, 8, 8, generator=g), torch.rand(frames, 3, 64, 64, generator=g)


def make(base, modules, **kw):
    from tcan_core.comfy.controlnet import make_temporal_controlnet

    return make_temporal_controlnet(base, modules, **kw)


def test_zero_output_projection_gives_the_stock_residuals_exactly(parts):
    model, _, base, state = parts
    x, hint = sample_inputs(16)
    stock = residuals(base, model, x, hint)
    temporal = residuals(make(base, modules_from(state, zero_out=True)), model, x, hint)
    assert torch.equal(flat(stock), flat(temporal))


def test_random_layers_mix_frames_within_a_chunk_only(parts):
    model, _, base, state = parts
    control = make(base, modules_from(state))
    x, hint = sample_inputs(32)
    nudged = x.clone()
    nudged[0] += 1.0
    a, b = flat(residuals(control, model, x, hint)), flat(residuals(control, model, nudged, hint))
    stock_a = flat(residuals(base, model, x, hint))
    assert not torch.allclose(a, stock_a)
    assert not torch.allclose(a[5], b[5])        # same chunk as frame 0
    assert torch.equal(a[20], b[20])             # next chunk: untouched


@pytest.mark.parametrize("window", [list(range(12, 28)), list(range(30, 37)) + list(range(0, 9))])
def test_a_window_gets_the_cached_residuals_of_its_own_frames(parts, window):
    model, _, base, state = parts
    control = make(base, modules_from(state))
    full, hint = sample_inputs(37, seed=3)
    whole = flat(residuals(control, model, full, hint))  # chunks 0-15, 16-31, 32-36
    options = {"cond_or_uncond": [0], "tcan": {"frames": window, "latents": full}}
    windowed = flat(residuals(control, model, full[window], hint, options))
    torch.testing.assert_close(windowed, whole[window], rtol=0, atol=1e-6)


def test_cond_and_uncond_chunks_and_strength_zero(parts):
    model, _, base, state = parts
    control = make(base, modules_from(state))
    x, hint = sample_inputs(16, seed=4)
    both = flat(residuals(control, model, torch.cat([x, x]), hint, {"cond_or_uncond": [0, 1]}, batched=2))
    one = flat(residuals(control, model, x, hint))
    torch.testing.assert_close(both[:16], one, rtol=0, atol=1e-6)
    torch.testing.assert_close(both[16:], one, rtol=0, atol=1e-6)
    c = control.copy().set_cond_hint(hint, 0.0)
    assert type(c).__name__ == "TemporalControlNet" and c.temporal_patcher in c.get_models()


def test_the_user_s_controlnet_is_unchanged(parts):
    model, _, base, state = parts
    x, hint = sample_inputs(16, seed=5)
    before = flat(residuals(base, model, x, hint))
    residuals(make(base, modules_from(state)), model, x, hint)
    after = flat(residuals(base, model, x, hint))
    assert torch.equal(before, after)
    assert not base.control_model_wrapped.get_additional_models()
    assert not base.control_model_wrapped.injections
    assert not any(type(m).__name__ == "ControlNetMotionModule" for m in base.control_model.modules())


def test_works_with_apply_controlnet_and_the_stock_ksampler(parts, comfy_nodes):
    import nodes

    model, clip, base, state = parts
    control = make(base, modules_from(state))
    conditioning = empty_conditioning(clip)
    _, hint = sample_inputs(16, seed=6)
    positive, negative = nodes.ControlNetApplyAdvanced().apply_controlnet(
        conditioning, conditioning, control, hint.movedim(1, -1), 1.0, 0.0, 1.0)
    latent = {"samples": torch.zeros(16, 4, 8, 8)}
    out = nodes.common_ksampler(model, 1, 1, 2.0, "euler", "normal", positive, negative, latent)[0]["samples"]
    plain = nodes.common_ksampler(model, 1, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.isfinite(out).all() and not torch.allclose(out, plain)


def test_node_builds_it_and_rejects_bad_files(parts, comfy_nodes):
    import folder_paths

    model, _, base, _ = parts
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
