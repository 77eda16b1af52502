"""Reference attention with TPC masks under ComfyUI's attention backends and in fp16/bf16 UNets."""

import functools

import pytest
import torch

from tests.unit.test_reference_masking import dense_oracle

from . import harness
from .helpers import poses, tpc_calibration
from .models import CHECKPOINT, CONTROLNET, MOTION_V2, empty_conditioning, model_path, sd15

BACKENDS = ("attention_basic", "attention_split", "attention_sub_quad", "attention_pytorch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_reference_attention_matches_the_dense_mask_on_every_backend(comfy_nodes, backend, dtype):
    import comfy.ldm.modules.attention as attention

    from tcan_core.appearance.masking import extra_key_permissions, masked_reference_attention

    gen = torch.Generator().manual_seed(0)
    b, lq, c, heads = 4, 64, 64, 8
    q, k, v = (torch.randn(b, n, c, generator=gen) for n in (lq, 3 * lq, 3 * lq))
    person_queries = torch.rand(b, lq, generator=gen) > 0.5
    person_tokens = torch.rand(b, 2, lq, generator=gen) > 0.4
    calibrated = torch.tensor([[False, True]] * b)
    person_keys, background_keys = extra_key_permissions(person_tokens, calibrated)
    backend_function = getattr(attention, backend)

    def run(q, k, v, heads, mask):
        return backend_function(q, k, v, heads, mask=mask)

    out = masked_reference_attention(q.to(dtype), k.to(dtype), v.to(dtype), heads, person_queries, person_keys,
                                     background_keys, run)
    expected = dense_oracle(q, k, v, heads, person_queries, person_tokens, calibrated)
    tolerance = 1e-4 if dtype == torch.float32 else 3e-2
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), expected, atol=tolerance, rtol=tolerance)


@functools.lru_cache(maxsize=None)  # float32 is the reference of both half-precision tests
def _sample(dtype):
    import comfy.controlnet
    import comfy.sd
    import comfy.utils

    from tcan_core.comfy.load import load_tcan
    from tcan_core.comfy.long_video import sample_long_video
    from tcan_core.temporal import load_motion_modules

    model, clip, vae = sd15()  # float32
    options = {"dtype": dtype}
    if dtype != model.model.get_dtype():
        model = comfy.sd.load_checkpoint_guess_config(model_path("checkpoints", CHECKPOINT), output_vae=False,
                                                      output_clip=False, model_options=options)[0]
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET), model_options=options)
    modules = load_motion_modules(comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2)))
    patched, bundle = load_tcan(model, control_net, modules, reference_strength=0.5)
    assert patched.model.get_dtype() == dtype
    conditioning = empty_conditioning(clip)
    frames = 12
    out, _ = sample_long_video(patched, bundle, conditioning, conditioning, vae, torch.rand(1, 64, 64, 3,
                               generator=torch.Generator().manual_seed(0)), poses(frames), seed=1, steps=1, cfg=2.0,
                               sampler_name="euler", scheduler="ddim_uniform", window_length=8, overlap=4,
                               calibration=tpc_calibration(frames), tpc_attention_masks=True)
    del model, control_net, patched, bundle
    harness.release_memory()
    return out["samples"]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_half_precision_unets_sample_close_to_float32(comfy_nodes, dtype):
    """Motion modules, temporal ControlNet, PTM, reference strength, TPC tokens and masks in fp16/bf16."""
    half, full = _sample(dtype), _sample(torch.float32)
    assert torch.isfinite(half).all()
    scale = full.abs().max()
    torch.testing.assert_close(half / scale, full / scale, atol=0.05, rtol=0)
