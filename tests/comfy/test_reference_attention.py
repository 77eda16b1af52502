"""Reference attention on a real ComfyUI SD1.5 UNet (random weights), zero-shot mode."""

import pytest
import torch

from .helpers import apply_model, load_tcan, window
from .models import empty_conditioning, sd15


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
    with_ref = apply_model(clone, x, {**options, "tcan": window(4, x[:4], reference)})
    assert not torch.allclose(with_ref[:4], plain[:4], atol=1e-3)
    torch.testing.assert_close(with_ref[4:], plain[4:], atol=1e-4, rtol=1e-4)
    assert len(patch.bank.tokens) == 10  # mid block + 9 up-block transformer blocks
    assert {site[0] for site in patch.bank.tokens} == {"middle", "output"}


def test_uncond_reference_option_and_a_different_reference_changes_the_output(model):
    clone, _ = patched(model, uncond_reference=True)
    x, reference = inputs(2)
    options = {"cond_or_uncond": [0, 1]}
    a = apply_model(clone, x, {**options, "tcan": window(4, x[:4], reference)})
    b = apply_model(clone, x, {**options, "tcan": window(4, x[:4], reference * -1)})
    plain = apply_model(model, x, options)
    assert not torch.allclose(a[4:], plain[4:], atol=1e-3)
    assert not torch.allclose(a, b, atol=1e-3)


def test_the_appearance_pass_runs_once_per_model_evaluation(model):
    from dataclasses import replace

    clone, patch = patched(model)
    x, reference = inputs(3)
    first_window = window(4, x, reference)
    apply_model(clone, x[:4], {"cond_or_uncond": [0], "tcan": first_window})
    first = dict(patch.bank.tokens)
    second_window = replace(first_window, frames=[4, 5, 6, 7])  # another window of the same evaluation
    apply_model(clone, x[4:], {"cond_or_uncond": [0], "tcan": second_window})
    assert all(patch.bank.tokens[k] is first[k] for k in first)
    apply_model(clone, x[4:], {"cond_or_uncond": [0], "tcan": window(4, x, reference, evaluation=1)})
    assert all(patch.bank.tokens[k] is not first[k] and torch.equal(patch.bank.tokens[k], first[k]) for k in first)


def test_a_tcan_model_under_ksampler_leaves_the_original_model_untouched(model, parts, comfy_nodes):
    import nodes

    _, clip, _ = sd15()
    conditioning = empty_conditioning(clip)
    latent = {"samples": torch.zeros(8, 4, 8, 8)}
    before = nodes.common_ksampler(model, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    animated, _ = load_tcan(parts)
    out = nodes.common_ksampler(animated, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.isfinite(out).all() and not torch.allclose(out, before)
    after = nodes.common_ksampler(model, 3, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)[0]["samples"]
    assert torch.equal(before, after)


def test_reference_strength_blends_between_plain_and_full_reference(model):
    x, reference = inputs(5)
    options = {"cond_or_uncond": [0, 1], "tcan": window(4, x[:4], reference)}
    full = apply_model(patched(model)[0], x, options)
    plain = apply_model(model, x, {"cond_or_uncond": [0, 1]})
    none = apply_model(patched(model, strength=0.0)[0], x, options)
    half = apply_model(patched(model, strength=0.5)[0], x, options)
    torch.testing.assert_close(none, plain, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(half[:4], full[:4], atol=1e-3) and not torch.allclose(half[:4], plain[:4], atol=1e-3)
    with pytest.raises(ValueError, match="0..2"):
        patched(model, strength=3.0)
