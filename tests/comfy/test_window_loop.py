"""TCAN's window loop as a ComfyUI core context handler: memory estimate, devices, core's Context
Windows, and the stock KSampler path computing what Sample Long Video computes for the same window."""

import pytest
import torch

from .helpers import load_tcan, poses
from .models import empty_conditioning, sd15


def test_memory_is_estimated_for_one_window_not_the_clip(parts):
    import comfy.sampler_helpers
    from comfy.patcher_extension import copy_nested_dicts

    from tcan_core.comfy.window_loop import TCANWindows, install

    patched, _ = load_tcan(parts)
    clone = install(patched.clone(), TCANWindows([list(range(16)), list(range(12, 28))]))
    seen = []
    clone.add_wrapper_with_key("prepare_sampling", "spy", lambda executor, model, shape, *a, **k: seen.append(shape))
    options = {**clone.model_options, "transformer_options": {"wrappers": copy_nested_dicts(clone.wrappers)}}
    comfy.sampler_helpers.prepare_sampling(clone, [1000, 4, 8, 8], [], model_options=options)
    assert seen == [[16, 4, 8, 8]]


def test_all_frame_sampler_state_stays_on_the_offload_device_and_only_windows_move(parts):
    """Device plumbing on a CPU-only machine: the meta device stands in for "the other device" (the
    offload device for the sampler's state, the compute device for the windows)."""
    from comfy.patcher_extension import WrapperExecutor, WrappersMP

    from tcan_core.comfy.window_context import window_of
    from tcan_core.comfy.window_loop import WRAPPER_KEY, TCANWindows, install

    patched, _ = load_tcan(parts)
    other = torch.device("meta")
    clone = patched.clone()
    clone.offload_device = other
    loop = install(clone, TCANWindows([list(range(16)), list(range(12, 28))], fusion="weighted")).model_options[
        "context_handler"]
    assert loop.compute_device == clone.load_device
    (sampler_wrapper,) = clone.wrappers[WrappersMP.SAMPLER_SAMPLE][WRAPPER_KEY]
    seen = []

    def sampler(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask, disable_pbar):
        seen.extend(t.device.type for t in (sigmas, noise, latent_image, denoise_mask))

    state = [torch.zeros(28, 4, 8, 8) for _ in range(3)]
    WrapperExecutor.new_class_executor(sampler, None, [sampler_wrapper]).execute(
        None, torch.ones(3), {}, None, *state, True)
    assert seen == ["meta"] * 4

    loop.compute_device = other
    calls = []

    def calc_cond_batch(model, conds, x, timestep, options):
        window = window_of(options["transformer_options"])
        calls.append((x.device.type, timestep.device.type, window.frames, options["transformer_options"]["context_window"].index_list))
        return [torch.full(x.shape, float(window.frames[0])), torch.full(x.shape, 2.0)]  # as if computed there

    x_in = torch.zeros(28, 4, 8, 8)
    options = {"transformer_options": {"sample_sigmas": torch.ones(2)}}
    cond, uncond = loop.execute(calc_cond_batch, None, [[{}], [{}]], x_in, torch.ones(28), options)
    assert calls == [("meta", "meta", list(range(16)), list(range(16))),
                     ("meta", "meta", list(range(12, 28)), list(range(12, 28)))]
    assert cond.device == x_in.device and torch.equal(uncond, torch.full_like(x_in, 2.0))
    # frames 12..15 in both windows: the triangle weights of the two windows (positions 12..15 and 0..3)
    first, second = torch.tensor([4.0, 3, 2, 1]), torch.tensor([1.0, 2, 3, 4])
    torch.testing.assert_close(cond[12:16, 0, 0, 0], (first * 0 + second * 12) / (first + second))
    assert torch.equal(cond[:12], torch.zeros(12, 4, 8, 8)) and torch.equal(cond[16:], torch.full((12, 4, 8, 8), 12.0))
    assert "tcan" not in options["transformer_options"] and "context_window" not in options["transformer_options"]


def test_core_context_windows_on_a_tcan_model_are_refused_with_what_to_do(parts, comfy_nodes):
    import comfy.context_windows as core
    import nodes

    from tcan_core.comfy.long_video import sample_long_video

    patched, bundle = load_tcan(parts)
    with_core = patched.clone()
    with_core.model_options["context_handler"] = core.IndexListContextHandler(
        core.get_matching_context_schedule(core.ContextSchedules.STATIC_STANDARD),
        core.ContextFuseMethod(core.ContextFuseMethods.FLAT, core.create_weights_flat), context_length=16,
        context_overlap=4)
    _, clip, vae = sd15()
    conditioning = empty_conditioning(clip)
    latent = {"samples": torch.zeros(20, 4, 8, 8)}
    with pytest.raises(ValueError, match="Context Windows node is not supported on a TCAN model.*Sample Long Video"):
        nodes.common_ksampler(with_core, 1, 1, 2.0, "euler", "normal", conditioning, conditioning, latent)
    with pytest.raises(ValueError, match="Context Windows node is not supported"):
        sample_long_video(with_core, bundle, conditioning, conditioning, vae, torch.rand(1, 64, 64, 3), poses(20),
                          seed=0, steps=1, cfg=2.0, sampler_name="euler", scheduler="ddim_uniform")


def test_the_stock_ksampler_path_computes_what_sample_long_video_does_for_the_same_window(parts, comfy_nodes):
    """A TCAN MODEL under KSampler with the temporal ControlNet from Apply ControlNet is one TCAN window over
    the batch: the same latents as Sample Long Video over those 16 frames (same noise), which the window
    loop also publishes as core's context_window for other packs."""
    import comfy.sample
    import nodes
    from comfy.patcher_extension import WrappersMP

    from tcan_core.comfy.long_video import initial_noise, sample_long_video

    patched, bundle = load_tcan(parts, reference_attention=False, ptm_tau=0.0)
    _, clip, vae = sd15()
    conditioning = empty_conditioning(clip)
    negative = clip.encode_from_tokens_scheduled(clip.tokenize("blurry"))
    pose_images = poses(16)
    seen = []

    def other_pack(executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
        seen.append(list(transformer_options["context_window"].index_list))  # core's window convention
        return executor(x, timesteps, context, y, control, transformer_options, **kwargs)

    spied = patched.clone()
    spied.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "other_pack", other_pack)
    slv, _ = sample_long_video(spied, bundle, conditioning, negative, vae, torch.rand(1, 64, 64, 3), pose_images,
                               seed=3, steps=2, cfg=2.0, sampler_name="euler", scheduler="ddim_uniform",
                               pad_to_window=False)
    assert seen and all(frames == list(range(16)) for frames in seen)
    positive, negative_cn = nodes.ControlNetApplyAdvanced().apply_controlnet(conditioning, negative, bundle.controlnet,
                                                                            pose_images, 1.0, 0.0, 1.0)
    latent = torch.zeros(16, 4, 8, 8)
    noise = initial_noise(latent, 3, 16, False)
    stock = comfy.sample.sample(patched, noise, 2, 2.0, "euler", "ddim_uniform", positive, negative_cn, latent,
                                disable_pbar=True, seed=3)
    torch.testing.assert_close(stock, slv["samples"], rtol=1e-4, atol=1e-4)
