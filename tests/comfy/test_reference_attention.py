"""Reference attention on a real ComfyUI SD1.5 UNet (random weights), zero-shot mode."""

import pytest
import torch

from .models import empty_conditioning, sd15
from .test_motion_modules import apply_model


@pytest.fixture(scope="module")
def model(comfy_nodes):
    return sd15()[0]


def patched(model, **options):
    from tcan_core.comfy.reference_attention import apply_reference_attention

    clone = model.clone()
    patch = apply_reference_attention(clone, **options)
    return clone, patch


def inputs(seed=0, frames=4):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * frames, 4, 8, 8, generator=g)
    reference = torch.randn(1, 4, 8, 8, generator=g) * 0.18215
    return x, reference


def test_without_a_reference_the_patch_changes_nothing(model):
    clone, _ = patched(model)
    x, _ = inputs()
    options = {"cond_or_uncond": [0, 1]}
    assert torch.equal(apply_model(clone, x, options), apply_model(model, x, options))


def test_cond_rows_see_the_reference_and_uncond_rows_stay_plain(model):
    clone, patch = patched(model)
    x, reference = inputs(1)
    options = {"cond_or_uncond": [0, 1]}
    plain = apply_model(model, x, options)
    with_ref = apply_model(clone, x, {**options, "tcan": {"reference_latent": reference}})
    assert not torch.allclose(with_ref[:4], plain[:4], atol=1e-3)
    torch.testing.assert_close(with_ref[4:], plain[4:], atol=1e-4, rtol=1e-4)
    assert len(patch.bank.tokens) == 10  # mid block + 9 up-block transformer blocks
    assert {site[0] for site in patch.bank.tokens} == {"middle", "output"}


def test_uncond_reference_option_and_a_different_reference_changes_the_output(model):
    clone, _ = patched(model, uncond_reference=True)
    x, reference = inputs(2)
    options = {"cond_or_uncond": [0, 1]}
    a = apply_model(clone, x, {**options, "tcan": {"reference_latent": reference}})
    b = apply_model(clone, x, {**options, "tcan": {"reference_latent": reference * -1}})
    plain = apply_model(model, x, options)
    assert not torch.allclose(a[4:], plain[4:], atol=1e-3)
    assert not torch.allclose(a, b, atol=1e-3)


def test_the_appearance_pass_runs_once_per_timestep(model):
    clone, patch = patched(model)
    x, reference = inputs(3)
    options = {"cond_or_uncond": [0], "tcan": {"reference_latent": reference}}
    apply_model(clone, x[:4], options)
    first = dict(patch.bank.tokens)
    apply_model(clone, x[4:], options)  # another window, same step
    assert all(patch.bank.tokens[k] is first[k] for k in first)


def test_with_motion_modules_and_ksampler_the_original_model_is_untouched(model, comfy_nodes):
    import comfy.utils
    import nodes

    from tcan_core.comfy.motion_patch import apply_motion_modules
    from tcan_core.temporal import load_motion_modules

    from .models import MOTION_V2, model_path

    _, clip, _ = sd15()
    conditioning = empty_conditioning(clip)
    latent = {"samples": torch.zeros(8, 4, 8, 8)}
    before = nodes.common_ksampler(model, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    modules = load_motion_modules(comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2)))
    animated = apply_motion_modules(model, modules)
    from tcan_core.comfy.reference_attention import apply_reference_attention

    apply_reference_attention(animated)
    animated.model_options["transformer_options"]["tcan"] = {"reference_latent": inputs(4)[1]}
    out = nodes.common_ksampler(animated, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.isfinite(out).all() and not torch.allclose(out, before)
    after = nodes.common_ksampler(model, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.equal(before, after)


def test_reference_strength_blends_between_plain_and_full_reference(model):
    x, reference = inputs(5)
    options = {"cond_or_uncond": [0, 1], "tcan": {"reference_latent": reference}}
    full = apply_model(patched(model)[0], x, options)
    plain = apply_model(model, x, {"cond_or_uncond": [0, 1]})
    none = apply_model(patched(model, strength=0.0)[0], x, options)
    half = apply_model(patched(model, strength=0.5)[0], x, options)
    torch.testing.assert_close(none, plain, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(half[:4], full[:4], atol=1e-3) and not torch.allclose(half[:4], plain[:4], atol=1e-3)
    with pytest.raises(ValueError, match="0..2"):
        patched(model, strength=3.0)
