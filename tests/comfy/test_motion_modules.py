"""Motion modules injected into a real ComfyUI SD1.5 UNet (random weights): effect, PTM, cleanliness."""

import pytest
import torch

from tcan_core.temporal import load_motion_modules

from . import harness
from .bundled import bundled_prompt
from .helpers import apply_model, injected, window
from .models import MOTION_V1, MOTION_V2, empty_conditioning, model_path, sd15

FRAMES = 16


@pytest.fixture(scope="module")
def setup(comfy_nodes):
    import comfy.utils

    model, clip, vae = sd15()
    modules = load_motion_modules(comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2)))
    return model, clip, modules


def ksampler(model, positive, negative, seed=1):
    import nodes

    latent = {"samples": torch.zeros(FRAMES, 4, 8, 8)}
    return nodes.common_ksampler(model, seed, 1, 2.0, "euler", "normal", positive, negative, latent)[0]["samples"]


def pack_apply(model, modules, **options):
    from tcan_core.comfy.motion_modules import apply_motion_modules

    return apply_motion_modules(model, modules, **options)


def scaled_queries(module, factor):
    """A copy of a motion module whose attention queries are scaled (its to_q weights times factor)."""
    import copy

    scaled = copy.deepcopy(module)
    with torch.no_grad():
        for block in scaled.temporal_transformer.transformer_blocks:
            for attention in block.attention_blocks:
                attention.to_q.weight.mul_(factor)
    return scaled


def test_ksampler_animates_with_the_patch_and_the_original_stays_bit_identical(setup):
    model, clip, modules = setup
    positive = negative = empty_conditioning(clip)
    sampling_before = model.get_model_object("model_sampling")
    before = ksampler(model, positive, negative)
    patched = pack_apply(model, modules)
    animated = ksampler(patched, positive, negative)
    assert animated.shape == before.shape and torch.isfinite(animated).all()
    assert not torch.allclose(animated, before, atol=1e-3)
    after = ksampler(model, positive, negative)
    assert torch.equal(before, after)
    assert not injected(model)
    assert model.get_model_object("model_sampling") is sampling_before
    assert not torch.equal(patched.get_model_object("model_sampling").sigmas, sampling_before.sigmas)


def test_frames_are_coupled_only_within_a_chunk(setup):
    model, _, modules = setup
    patched = pack_apply(model, modules)
    torch.manual_seed(0)
    x = torch.randn(2 * FRAMES, 4, 8, 8)
    nudged = x.clone()
    nudged[0] += 1.0  # frame 0 of the first chunk
    options = {"cond_or_uncond": [0, 1]}
    a, b = apply_model(patched, x, options), apply_model(patched, nudged, options)
    assert not torch.allclose(a[5], b[5])                      # same chunk: temporal attention sees frame 0
    torch.testing.assert_close(a[FRAMES:], b[FRAMES:])          # other chunk: untouched
    plain_a, plain_b = apply_model(model, x, options), apply_model(model, nudged, options)
    torch.testing.assert_close(plain_a[5], plain_b[5])          # the plain UNet treats frames alone


def test_ptm_reaches_the_modules_and_temperature_one_is_no_ptm(setup):
    model, _, modules = setup
    patched = pack_apply(model, modules)
    torch.manual_seed(1)
    x = torch.randn(FRAMES, 4, 8, 6)  # non-square latent, one chunk
    plain = apply_model(patched, x, {})
    ones = apply_model(patched, x, {"tcan": window(FRAMES, x, temperature=torch.ones(64, 48))})
    hot = apply_model(patched, x, {"tcan": window(FRAMES, x, temperature=torch.full((64, 48), 3.0))})
    assert torch.equal(plain, ones)
    assert not torch.allclose(plain, hot)
    # a uniform temperature T divides every logit by T: the same as the modules' queries scaled by 1/T
    scaled = pack_apply(model, {name: scaled_queries(m, 1 / 3.0) for name, m in modules.items()})
    torch.testing.assert_close(apply_model(scaled, x, {}), hot, rtol=1e-4, atol=1e-5)


def test_injected_at_the_tcan_places_and_ejected_afterwards(setup):
    import comfy.model_management
    from comfy.ldm.modules.attention import SpatialTransformer
    from comfy.ldm.modules.diffusionmodules.openaimodel import Upsample

    model, _, modules = setup
    patched = pack_apply(model, modules)
    comfy.model_management.load_models_gpu([patched])
    unet = patched.model.diffusion_model
    placed = {(kind, i) for kind in ("input_blocks", "output_blocks")
              for i, block in enumerate(getattr(unet, kind)) if any(m in injected(model) for m in block)}
    assert placed == {("input_blocks", i) for i in (1, 2, 4, 5, 7, 8, 10, 11)} | {("output_blocks", i) for i in range(12)}
    assert not any(m in injected(model) for m in unet.middle_block)  # no mid block unless asked
    for block in list(unet.input_blocks) + list(unet.output_blocks):
        layers = list(block)
        for i, layer in enumerate(layers):
            if layer in injected(model):
                assert not any(isinstance(l, SpatialTransformer) for l in layers[i + 1:])
                assert i == 0 or not isinstance(layers[i - 1], Upsample)
    comfy.model_management.load_models_gpu([model])
    assert not injected(model)
    assert not any(type(m).__name__ == "CrossFrameGroupNorm" for m in model.model.diffusion_model.modules())


def test_cross_frame_group_norm_changes_the_result_and_leaves_no_trace(setup):
    model, _, modules = setup
    torch.manual_seed(2)
    x = torch.randn(2 * FRAMES, 4, 8, 8)
    options = {"cond_or_uncond": [0, 1]}
    per_frame = apply_model(pack_apply(model, modules), x, options)
    across = apply_model(pack_apply(model, modules, cross_frame_norm=True), x, options)
    assert not torch.allclose(per_frame, across)
    import comfy.model_management

    comfy.model_management.load_models_gpu([model])
    assert not any(type(m).__name__ == "CrossFrameGroupNorm" for m in model.model.diffusion_model.modules())


def test_apply_motion_module_node_and_bad_files(setup, comfy_nodes):
    import folder_paths

    model, _, _ = setup
    node = comfy_nodes.NODE_CLASS_MAPPINGS["TCANApplyMotionModule"]
    folder_paths.add_model_folder_path("animatediff_models", model_path("animatediff_models", MOTION_V1).rsplit("/", 1)[0])
    (patched,) = node.execute(model=model, motion_module=MOTION_V1, beta_schedule="sqrt_linear", groupnorm="auto",
                               use_mid_block=False).args
    assert patched is not model and patched.get_additional_models()
    with pytest.raises(ValueError, match="not found; put it in"):
        node.execute(model=model, motion_module="missing.ckpt", beta_schedule="sqrt_linear", groupnorm="auto",
                     use_mid_block=False)


def test_bundled_motion_module_workflow_runs_with_core_nodes(comfy_nodes):
    import glob
    import os

    prompt = bundled_prompt("motion_module_clip.json", comfy_nodes, overrides={
        "EmptyLatentImage": {"width": 64, "height": 64}, "KSampler": {"steps": 1}})
    harness.execute(prompt)
    videos = glob.glob(os.path.join(harness.work_dir(), "output", "tcan", "motion_module_clip*.mp4"))
    assert len(videos) == 1 and os.path.getsize(videos[0]) > 1000
