"""AnimateDiff motion modules against diffusers' independent implementation, and PTM inside attention."""

import math

import pytest
import torch

from tcan_core.temporal import MotionModule, load_motion_modules, motion_module_names
from tcan_core.temporal.motion_module import TemporalAttention

diffusers_unet_motion = pytest.importorskip("diffusers.models.unets.unet_motion_model")


def to_diffusers_key(key):
    key = key.removeprefix("temporal_transformer.")
    for ours, theirs in ((".attention_blocks.0.", ".attn1."), (".attention_blocks.1.", ".attn2."),
                         (".norms.0.", ".norm1."), (".norms.1.", ".norm2."), (".ff_norm.", ".norm3.")):
        key = key.replace(ours, theirs)
    return key


def to_original_key(key):
    """diffusers MotionAdapter key -> original AnimateDiff key (what the checkpoints on disk use)."""
    parts = key.split(".")
    i = parts.index("motion_modules") + 2
    head, tail = ".".join(parts[:i]), ".".join(parts[i:])
    for theirs, ours in (("attn1.", "attention_blocks.0."), ("attn2.", "attention_blocks.1."),
                         ("norm1.", "norms.0."), ("norm2.", "norms.1."), ("norm3.", "ff_norm.")):
        tail = tail.replace(theirs, ours)
    return f"{head}.temporal_transformer.{tail}"


class PerFrameGroupNorm(torch.nn.Module):
    """diffusers normalises [B, C, F, h, w] across frames; the original AnimateDiff per frame."""

    def __init__(self, norm):
        super().__init__()
        self.norm = norm

    def forward(self, x):  # [B, C, F, h, w]
        b, c, f, h, w = x.shape
        y = self.norm(x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w))
        return y.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)


def randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 if p.ndim == 1 else 1.0 / math.sqrt(p.shape[-1])))
            if name.endswith("norm.weight") or ".norms." in name or "ff_norm.weight" in name:
                p.add_(1.0)


def diffusers_reference(ours):
    ref = diffusers_unet_motion.AnimateDiffTransformer3D(
        num_attention_heads=8, attention_head_dim=ours.channels // 8, in_channels=ours.channels, norm_num_groups=32,
        activation_fn="geglu", attention_bias=False, positional_embeddings="sinusoidal",
        num_positional_embeddings=ours.max_len, double_self_attention=True)
    state = {to_diffusers_key(k): v for k, v in ours.state_dict().items() if not k.endswith("pos_encoder.pe")}
    missing, unexpected = ref.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("pos_embed.pe") for k in missing), (missing, unexpected)
    ref.norm = PerFrameGroupNorm(ref.norm)
    return ref.eval()


@pytest.mark.parametrize("channels", [320, 640, 1280])
@pytest.mark.parametrize("frames", [8, 16])
@pytest.mark.parametrize("chunks", [1, 2])
def test_matches_diffusers_animatediff_transformer(channels, frames, chunks):
    ours = MotionModule(channels, max_len=32).eval()
    randomise(ours, seed=channels + frames)
    ref = diffusers_reference(ours)
    x = torch.randn(chunks * frames, channels, 4, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = ref(x, num_frames=frames)
        expected = expected.sample if hasattr(expected, "sample") else expected
        got = ours(x, num_frames=frames)
    assert (got - expected).abs().max().item() <= 1e-4


def test_attention_with_temperature_equals_logits_divided_by_t():
    torch.manual_seed(0)
    attn = TemporalAttention(64, 24).eval()
    randomise(attn, 3)
    x = torch.randn(6, 10, 64)  # 6 spatial rows, 10 frames
    temperature = torch.tensor([1.0, 1.5, 2.0, 3.0, 4.0, 7.0])
    with torch.no_grad():
        got = attn(x, 1.0 / temperature)
        h = attn.pos_encoder(x)
        q, k, v = (m(h).reshape(6, 10, 8, 8).transpose(1, 2) for m in (attn.to_q, attn.to_k, attn.to_v))
        logits = q @ k.transpose(-1, -2) / (math.sqrt(8) * temperature[:, None, None, None])
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(6, 10, 64)
        expected = attn.to_out[0](out)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_temperature_one_everywhere_equals_no_ptm_exactly():
    module = MotionModule(64, 24).eval()
    randomise(module, 5)
    x = torch.randn(2 * 8, 64, 5, 7)
    with torch.no_grad():
        assert torch.equal(module(x, 8, temperature=torch.ones(40, 56)), module(x, 8))
        assert not torch.equal(module(x, 8, temperature=torch.full((40, 56), 2.0)), module(x, 8))


def test_temperature_is_resized_nearest_per_position_for_any_aspect_and_chunk_count():
    module = MotionModule(64, 24).eval()
    randomise(module, 6)
    x = torch.randn(3 * 4, 64, 2, 3)  # three chunks, 4 frames, 2 x 3 latent
    t = torch.tensor([[1.0, 1.0, 2.0, 2.0, 5.0, 5.0], [3.0, 3.0, 4.0, 4.0, 6.0, 6.0]]).repeat_interleave(2, 0)
    with torch.no_grad():
        full = module(x, 4, temperature=t)
        for pos, value in enumerate([1.0, 2.0, 5.0, 3.0, 4.0, 6.0]):
            row, col = divmod(pos, 3)
            alone = module(x, 4, temperature=torch.full((4, 6), value))
            torch.testing.assert_close(full[:, :, row, col], alone[:, :, row, col], atol=1e-6, rtol=1e-6)


def _small_adapter_state(max_len=24, mid=False):
    adapter = diffusers_unet_motion.MotionAdapter(
        block_out_channels=(64, 128), motion_layers_per_block=2, motion_norm_num_groups=32,
        motion_num_attention_heads=8, motion_max_seq_length=max_len, use_motion_mid_block=mid)
    randomise(adapter, 9)
    state = {}
    for key, value in adapter.state_dict().items():
        if key.endswith("pos_embed.pe"):
            for a in (0, 1):
                state[to_original_key(key.replace("pos_embed.pe", f"attention_blocks.{a}.pos_encoder.pe"))] = value
        else:
            state[to_original_key(key)] = value
    return adapter, state


def test_loads_original_layout_and_matches_the_adapter_it_came_from():
    adapter, state = _small_adapter_state(max_len=32, mid=True)
    modules = load_motion_modules(state)
    assert motion_module_names(state) == list(modules)
    assert list(modules)[:3] == ["down_blocks.0.motion_modules.0", "down_blocks.0.motion_modules.1",
                                 "down_blocks.1.motion_modules.0"]
    assert "mid_block.motion_modules.0" in modules and len(modules) == 2 * 2 + 1 + 3 * 2
    module = modules["up_blocks.0.motion_modules.2"]
    assert module.channels == 128 and module.max_len == 32
    ref = adapter.up_blocks[0].motion_modules[2]
    ref.norm = PerFrameGroupNorm(ref.norm)
    x = torch.randn(16, 128, 3, 3)
    with torch.no_grad():
        expected = ref(x, num_frames=16)
        expected = expected.sample if hasattr(expected, "sample") else expected
        assert (module(x, 16) - expected).abs().max().item() <= 1e-4


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_keeps_the_checkpoint_dtype_and_reads_the_position_length(dtype):
    _, state = _small_adapter_state(max_len=24)
    modules = load_motion_modules({k: v.to(dtype) for k, v in state.items()})
    module = modules["down_blocks.1.motion_modules.1"]
    assert module.dtype == dtype and module.max_len == 24
    x = torch.randn(8, 128, 2, 2)
    assert module(x, 8).dtype == torch.float32
    assert load_motion_modules(state, dtype=torch.float16)["down_blocks.0.motion_modules.0"].dtype == torch.float16


def test_accepts_motion_modules_inside_a_tcan_unet_checkpoint():
    _, state = _small_adapter_state()
    tcan_unet = {"module." + k: v for k, v in state.items()}
    tcan_unet["module.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.base_layer.weight"] = torch.zeros(4, 4)
    assert set(load_motion_modules(tcan_unet)) == set(load_motion_modules(state))


def test_bad_state_dicts_give_clear_errors():
    with pytest.raises(ValueError, match="holds no AnimateDiff motion modules"):
        load_motion_modules({"model.diffusion_model.out.0.weight": torch.zeros(3)}, source="x.ckpt")
    _, state = _small_adapter_state()
    broken = {k: v for k, v in state.items() if "ff_norm" not in k}
    with pytest.raises(ValueError, match="missing"):
        load_motion_modules(broken)
    module = MotionModule(64, 4)
    with pytest.raises(ValueError, match="longer than this motion module's position encoding"):
        module(torch.randn(8, 64, 2, 2), 8)
    with pytest.raises(ValueError, match="whole number"):
        module(torch.randn(6, 64, 2, 2), 4)
