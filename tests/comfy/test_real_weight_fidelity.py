"""Deviations from TCAN that random-weight wiring tests cannot see (issue 12), each against an
independent expectation: ComfyUI's own modules, the file's weights, an explicitly composed run."""

import pytest
import torch

from . import harness
from .helpers import apply_model, flat, official_unet, poses, residuals, sample_inputs, to_diffusers, window
from .helpers import load_tcan as load
from .models import CONTROLNET, empty_conditioning, model_path, sd15

NORM = "diffusion_model.input_blocks.1.0.in_layers.0.weight"


@pytest.fixture(autouse=True)
def release_models():
    """Each test loads GB-sized patched models (and TCAN files' copies); drop them before the next."""
    yield
    harness.release_memory()


def loaded_weight(patcher, key):
    """A weight of the patched model as ComfyUI loaded it (motion modules ejected, so keys resolve)."""
    import comfy.model_management
    import comfy.utils

    comfy.model_management.load_models_gpu([patcher])
    with patcher.use_ejected():
        return comfy.utils.get_attr(patcher.model, key).detach().clone()


def unet_out(patcher, x, options):
    return apply_model(patcher, x, options)


def bank_of(patcher):
    return next(iter(patcher.model_options["transformer_options"]["patches"]["attn1_patch"])).bank


# -- 0: a TCAN UNet file's weights all reach the model, GroupNorms included -------------------------

@pytest.mark.parametrize("groupnorm", ["across frames", "per frame"])
def test_every_weight_of_a_tcan_unet_file_reaches_the_model(parts, groupnorm):
    from tcan_core.checkpoints import load_tcan_files

    model, _, _, motion_state, _, unet_ldm = parts
    shifted = {k: v + 0.01 for k, v in unet_ldm.items()}  # every weight differs from the user's MODEL
    weights = load_tcan_files(unet=official_unet(shifted, motion_state, lora_scale=0.0))
    assert len(weights.unet_base) == 686
    patched, _ = load(parts, weights, groupnorm=groupnorm)
    import comfy.model_management
    import comfy.utils

    comfy.model_management.load_models_gpu([patched])
    with patched.use_ejected():
        wrong = [k for k, v in weights.unet_base.items()
                 if not torch.equal(comfy.utils.get_attr(patched.model, k).float(), v.float())]
    assert wrong == []
    comfy.model_management.load_models_gpu([model])  # the user's MODEL gets its own weights back
    assert torch.equal(comfy.utils.get_attr(model.model, NORM).float(), unet_ldm[NORM.removeprefix("diffusion_model.")])


def test_a_weight_patch_on_a_norm_takes_effect_with_cross_frame_norm(parts):
    from tcan_core.comfy.motion_modules import apply_motion_modules

    model, _, _, _, modules, unet_ldm = parts
    delta = torch.linspace(-0.5, 0.5, unet_ldm[NORM.removeprefix("diffusion_model.")].numel())
    plain = apply_motion_modules(model, modules, cross_frame_norm=True)
    patched = apply_motion_modules(model, modules, cross_frame_norm=True)
    patched.add_patches({NORM: ("diff", (delta,))}, 1.0)
    torch.testing.assert_close(loaded_weight(patched, NORM), unet_ldm[NORM.removeprefix("diffusion_model.")] + delta)
    x = torch.randn(16, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(unet_out(patched, x, {}), unet_out(plain, x, {}), atol=1e-4)


def test_cross_frame_norm_uses_comfys_cast_path_and_equals_comfys_groupnorm_over_frames(comfy_nodes):
    """The view with a weight function (what low-VRAM loading and patches install) equals ComfyUI's own
    GroupNorm applied to the [chunks, C, frames, h, w] tensor."""
    import comfy.ops

    from tcan_core.comfy.cross_frame_norm import cross_frame_view
    from tcan_core.comfy.window_context import FrameCount

    for ops in (comfy.ops.disable_weight_init, comfy.ops.manual_cast):
        norm = ops.GroupNorm(32, 64, eps=1e-6, affine=True)
        with torch.no_grad():
            norm.weight.copy_(torch.rand(64) + 0.5)
            norm.bias.copy_(torch.randn(64))
        frames = FrameCount()
        frames.frames = 4
        view = cross_frame_view(norm, frames)
        assert view.weight is norm.weight and "weight" in dict(view.named_parameters())
        for module in (norm, view):  # ComfyUI sets these on the module in the model: the view
            module.weight_function = [lambda w: w * 2.0]
            module.bias_function = [lambda b: b - 1.0]
        x = torch.randn(8, 64, 4, 4, generator=torch.Generator().manual_seed(1))
        expected = norm(x.reshape(2, 4, 64, 4, 4).transpose(1, 2)).transpose(1, 2).reshape(x.shape)
        torch.testing.assert_close(view(x), expected, atol=1e-5, rtol=1e-5)
        frames.frames = 1  # one frame per chunk: the plain per-frame norm
        torch.testing.assert_close(view(x), norm(x))


# -- 1: the appearance pass normalises each image alone --------------------------------------------

@pytest.mark.parametrize("kinds", [[0], [1, 0]])
def test_the_reference_tokens_do_not_depend_on_the_other_images_of_the_pass(parts, kinds):
    from tcan_core.comfy.motion_modules import apply_motion_modules
    from tcan_core.comfy.reference_attention import apply_reference_attention

    model, _, _, _, modules, _ = parts
    patched = apply_motion_modules(model, modules, cross_frame_norm=True)
    patch = apply_reference_attention(patched)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(16 * len(kinds), 4, 8, 8, generator=g)
    reference = torch.randn(1, 4, 8, 8, generator=g)
    recorded = []
    for seed in (3, 4):  # the same reference with three other (calibrated) images
        others = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(seed))
        references = torch.cat([reference, others])
        unet_out(patched, x, {"cond_or_uncond": kinds, "tcan": window(16, x[:16], references)})
        recorded.append({site: tokens[0].clone() for site, tokens in patch.bank.tokens.items()})
    assert len(recorded[0]) == 10 and all(torch.equal(recorded[0][s], recorded[1][s]) for s in recorded[0])


# -- 2: groupnorm=auto follows the TCAN files ----------------------------------------------------------

def test_auto_groupnorm_is_across_frames_for_a_tcan_unet_file_and_per_frame_for_v2_zero_shot(parts):
    from tcan_core.checkpoints import load_tcan_files

    _, _, _, motion_state, _, unet_ldm = parts
    weights = load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.0))
    x = torch.randn(32, 4, 8, 8, generator=torch.Generator().manual_seed(5))
    options = {"cond_or_uncond": [0, 1]}
    auto = unet_out(load(parts, weights, reference_attention=False)[0], x, options)
    across = unet_out(load(parts, weights, reference_attention=False, groupnorm="across frames")[0], x, options)
    per_frame = unet_out(load(parts, weights, reference_attention=False, groupnorm="per frame")[0], x, options)
    assert torch.equal(auto, across) and not torch.allclose(auto, per_frame, atol=1e-4)
    zero_shot = unet_out(load(parts, reference_attention=False)[0], x, options)
    assert torch.equal(zero_shot, per_frame)  # the same weights, v2 modules: per frame


def test_auto_groupnorm_is_across_each_chunk_in_a_tcan_controlnet(parts):
    import comfy.utils

    from tcan_core.checkpoints import controlnet_name_map, load_tcan_files

    model, _, _, motion_state, _, _ = parts
    raw = comfy.utils.load_torch_file(model_path("controlnet", CONTROLNET))
    official = to_diffusers({k: v.float() for k, v in raw.items()}, controlnet_name_map(), prefix="control_model.")
    official.update({k: v for k, v in motion_state.items() if k.startswith(("down_blocks.2.", "down_blocks.3."))})
    weights = load_tcan_files(controlnet=official)
    x, hint = sample_inputs(16, seed=6)
    auto = flat(residuals(load(parts, weights)[1].controlnet, model, x, hint))
    across = flat(residuals(load(parts, weights, groupnorm="across frames")[1].controlnet, model, x, hint))
    per_frame = flat(residuals(load(parts, weights, groupnorm="per frame")[1].controlnet, model, x, hint))
    zero_shot = flat(residuals(load(parts)[1].controlnet, model, x, hint))
    assert torch.equal(auto, across) and not torch.allclose(auto, per_frame, atol=1e-4)
    torch.testing.assert_close(zero_shot, per_frame, rtol=1e-4, atol=1e-4)  # same weights, stock ControlNet: per frame


# -- 4: the ControlNet's residuals are cached per model evaluation, not per sigma ------------------------

def test_two_evaluations_at_the_same_sigma_get_their_own_residuals(parts):
    model, _, _, _, _, _ = parts
    control = load(parts)[1].controlnet
    first, hint = sample_inputs(24, seed=7)
    second = first + 0.5  # a second-order sampler's second evaluation: same sigma, another latent
    frames = list(range(4, 20))
    c = control.copy().set_cond_hint(hint, 1.0)
    c.pre_run(model.model, lambda p: model.model.model_sampling.percent_to_sigma(p))
    import comfy.model_management

    comfy.model_management.load_models_gpu(c.get_models())
    sigma = torch.full((16,), 2.0)
    context = torch.zeros(16, 77, 768)
    got = []
    with torch.no_grad():
        for evaluation, latents in enumerate((first, second)):
            options = {"cond_or_uncond": [0], "tcan": window(frames, latents, evaluation=evaluation)}
            got.append(flat(c.get_control(latents[frames], sigma, {"c_crossattn": context}, 1, options)))
    c.cleanup()
    for latents, result in zip((first, second), got):  # each equals an uncached run over its own latents
        expected = flat(residuals(control, model, latents, hint))[frames]
        torch.testing.assert_close(result, expected, rtol=0, atol=1e-6)
    assert not torch.allclose(got[0], got[1], atol=1e-4)


# -- 5: cond and uncond batch together; positive text for the appearance pass and the ControlNet ---------

def test_positive_text_drives_the_appearance_pass_and_the_controlnet_whatever_the_batching(parts):
    from tcan_core.comfy.reference_attention import apply_reference_attention

    model, _, _, _, _, _ = parts
    clone = model.clone()
    patch = apply_reference_attention(clone)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(8, 4, 8, 8, generator=g)
    reference = torch.randn(1, 4, 8, 8, generator=g)
    positive, negative = torch.randn(1, 77, 768, generator=g), torch.randn(1, 77, 768, generator=g)
    from tcan_core.comfy.window_context import positive_context

    def record(kinds):
        import comfy.model_management
        from comfy.patcher_extension import copy_nested_dicts

        comfy.model_management.load_models_gpu([clone])
        options = copy_nested_dicts(clone.model_options.get("transformer_options", {}))
        options["wrappers"] = copy_nested_dicts(clone.wrappers)
        options.update({"cond_or_uncond": kinds, "tcan": window(4, x[:4], reference)})
        context = torch.cat([(positive if kind == 0 else negative).expand(4, -1, -1) for kind in kinds])
        assert torch.equal(positive_context(context, kinds, 4), positive)
        with torch.no_grad():
            clone.model.apply_model(x[:4 * len(kinds)], torch.full((4 * len(kinds),), 0.5), c_crossattn=context,
                                    transformer_options=options)
        return {site: tokens.clone() for site, tokens in patch.bank.tokens.items()}

    joint, cond_only = record([1, 0]), record([0])  # ComfyUI's joint batch is uncond first
    assert all(torch.equal(joint[s], cond_only[s]) for s in joint)
    # and the temporal ControlNet: the same residuals for the uncond rows, whatever the negative text
    control = load(parts)[1].controlnet
    clip, hint = sample_inputs(16, seed=9)
    both = torch.cat([clip, clip])
    texts = torch.cat([negative.expand(16, -1, -1), positive.expand(16, -1, -1)])
    options = {"cond_or_uncond": [1, 0], "tcan": window(16, clip)}
    out = flat(residuals(control, model, both, hint, options, batched=2, context=texts))
    cond = flat(residuals(control, model, clip, hint, context=positive.expand(16, -1, -1)))
    torch.testing.assert_close(out[:16], cond, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[16:], cond, rtol=0, atol=1e-6)


def test_cond_and_uncond_run_in_one_unet_call_per_window(parts):
    model, clip, control_net, _, _, _ = parts
    patched, bundle = load(parts)
    calls = []

    def spy(apply_model, args):
        calls.append(list(args["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    patched.set_model_unet_function_wrapper(spy)
    from tcan_core.comfy.long_video import sample_long_video

    conditioning = empty_conditioning(clip)
    negative = clip.encode_from_tokens_scheduled(clip.tokenize("blurry"))
    _, vae = sd15()[1:]
    out, windowed = sample_long_video(patched, bundle, conditioning, negative, vae, torch.rand(1, 64, 64, 3),
                                      poses(20), seed=1, steps=2, cfg=2.0, sampler_name="euler",
                                      scheduler="ddim_uniform")
    assert len(calls) == 2 * len(windowed.windows) and all(sorted(kinds) == [0, 1] for kinds in calls)


# -- 7: smaller ones ------------------------------------------------------------------------------------

def test_the_appearance_net_of_a_tcan_unet_file_is_its_base_without_the_lora(parts):
    from tcan_core.checkpoints import load_tcan_files

    _, _, _, motion_state, _, unet_ldm = parts
    x = torch.randn(16, 4, 8, 8, generator=torch.Generator().manual_seed(10))
    reference = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(11)) * 0.2
    with_lora, bundle = load(parts, load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.05)))
    assert any("without the APPA LoRA" in note for note in bundle.notes)
    unet_out(with_lora, x, {"cond_or_uncond": [0], "tcan": window(16, x, reference)})
    lora_bank = {site: t.clone() for site, t in bank_of(with_lora).tokens.items()}
    del with_lora
    harness.release_memory()
    without_lora, _ = load(parts, load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.0)))
    unet_out(without_lora, x, {"cond_or_uncond": [0], "tcan": window(16, x, reference)})  # the UNet itself
    plain_bank = bank_of(without_lora).tokens
    for site, tokens in lora_bank.items():
        torch.testing.assert_close(tokens, plain_bank[site], rtol=1e-4, atol=1e-4)


def test_the_v2_mid_block_module_is_an_option(parts):
    import comfy.model_management

    patched, _ = load(parts, use_mid_block=True, reference_attention=False)
    default, _ = load(parts, reference_attention=False)
    comfy.model_management.load_models_gpu([patched])
    assert any(type(layer).__name__ == "InjectedMotionModule" for layer in patched.model.diffusion_model.middle_block)
    x = torch.randn(16, 4, 8, 8, generator=torch.Generator().manual_seed(11))
    assert not torch.allclose(unet_out(patched, x, {}), unet_out(default, x, {}), atol=1e-4)


def test_padding_to_a_window_equals_repeating_the_last_pose_by_hand(parts):
    from tcan_core.comfy.long_video import sample_long_video

    model, clip, _, _, _, _ = parts
    patched, bundle = load(parts)
    conditioning = empty_conditioning(clip)
    vae = sd15()[2]
    pose_images = poses(5)
    reference = torch.rand(1, 64, 64, 3, generator=torch.Generator().manual_seed(12))
    common = dict(seed=3, steps=2, cfg=2.0, sampler_name="euler", scheduler="ddim_uniform")
    padded, windowed = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference, pose_images,
                                         **common)
    assert windowed.windows == [list(range(16))] and padded["samples"].shape[0] == 5
    by_hand, _ = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference,
                                   pose_images[[min(i, 4) for i in range(16)]], pad_to_window=False, **common)
    torch.testing.assert_close(padded["samples"], by_hand["samples"][:5], rtol=1e-4, atol=1e-4)
    unpadded, windowed = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference, pose_images,
                                           pad_to_window=False, **common)
    assert windowed.windows == [list(range(5))] and not torch.allclose(unpadded["samples"], padded["samples"])


# -- 3 and 6 at sampling time: the framed reference and TPC's screened background -----------------------------

def test_the_reference_latent_is_the_framed_picture(parts):
    import numpy as np

    from tcan_core.comfy.long_video import reference_latent
    from tcan_core.frame_fit import fit_image

    model, _, _, _, _, _ = parts
    vae = sd15()[2]
    picture = torch.rand(1, 90, 50, 3, generator=torch.Generator().manual_seed(13))
    framed = fit_image(picture[0].numpy(), 64, 64)
    assert not framed[:, :14].any() and not framed[:, 51:].any()  # 50x90 into 64x64: 35.6 px wide, centred
    expected = model.model.process_latent_in(vae.encode(torch.from_numpy(np.ascontiguousarray(framed))[None]))
    torch.testing.assert_close(reference_latent(model, vae, picture, 64, 64), expected)


def test_changing_the_calibrated_images_background_changes_nothing(parts):
    import numpy as np

    from tcan_core.calibrate import calibrate
    from tcan_core.comfy.long_video import sample_long_video
    from tcan_core.pose import retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE

    model, clip, _, _, _, _ = parts
    patched, bundle = load(parts)
    conditioning = empty_conditioning(clip)
    vae = sd15()[2]
    frames = 12
    reference_pose = load_pose_json(REFERENCE_POSE)
    driving = retarget(reference_pose, load_pose_json(DRIVING_POSE)[:frames])
    image = np.random.default_rng(14).random((512, 384, 3)).astype(np.float32)
    calibration = calibrate(image, reference_pose, driving, num_groups=3)
    other = image.copy()
    other[calibration.reference_mask == 0] = 0.5  # another background, same person
    repainted = calibrate(other, reference_pose, driving, num_groups=3)
    reference = torch.from_numpy(image)[None]  # the reference latent is the same in both runs
    common = dict(seed=4, steps=1, cfg=2.0, sampler_name="euler", scheduler="ddim_uniform")
    a, _ = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference, poses(frames),
                             calibration=calibration, **common)
    b, _ = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference, poses(frames),
                             calibration=repainted, **common)
    assert torch.equal(a["samples"], b["samples"])
