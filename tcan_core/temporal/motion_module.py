"""AnimateDiff's temporal transformer ("motion module"), in the original key layout.

One module = `VanillaTemporalModule` of guoyww/AnimateDiff: attribute names match the original
checkpoints after the `<block>.motion_modules.<j>.` prefix, so `load_state_dict` takes them as they
are (`temporal_transformer.norm.weight`, `...transformer_blocks.0.attention_blocks.0.to_q.weight`, ...).

Shapes: the input is [B*F, C, h, w] (frames of each chunk contiguous in the batch, as ComfyUI and
diffusers lay them out); temporal attention runs over the F frames of every spatial position.
Unlike diffusers' AnimateDiffTransformer3D, the input GroupNorm normalises each frame on its own,
as the original AnimateDiff and TCAN do.

PTM: an optional temperature map T [H', W'] divides the attention logits of each spatial position
by T(x, y). Every position is its own batch row of the attention, so this is done by scaling that
row's queries by 1/T before a fused kernel (exactly equal to softmax(q k^T / (T sqrt(d))) v).
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import sdpa_attention

HEADS = 8


class PositionalEncoding(nn.Module):
    """Sinusoidal frame-position encoding, added to the attention input (positions 0..F-1)."""

    def __init__(self, channels, max_len):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, channels, 2) * (-math.log(10000.0) / channels))
        pe = torch.zeros(1, max_len, channels)
        pe[0, :, 0::2] = torch.sin(position * div_term)
        pe[0, :, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x):
        frames = x.shape[1]
        if frames > self.pe.shape[1]:
            raise ValueError(
                f"a window of {frames} frames is longer than this motion module's position encoding "
                f"({self.pe.shape[1]} frames); use windows of at most {self.pe.shape[1]} frames")
        return x + self.pe[:, :frames].to(x.dtype)


class TemporalAttention(nn.Module):
    """Self-attention over frames (`VersatileAttention` with Temporal_Self)."""

    def __init__(self, channels, max_len):
        super().__init__()
        self.to_q = nn.Linear(channels, channels, bias=False)
        self.to_k = nn.Linear(channels, channels, bias=False)
        self.to_v = nn.Linear(channels, channels, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(channels, channels), nn.Dropout(0.0)])
        self.pos_encoder = PositionalEncoding(channels, max_len)

    def forward(self, x, inverse_temperature=None, attention=sdpa_attention):
        """x [rows, F, C]; inverse_temperature [rows] or None."""
        x = self.pos_encoder(x)
        q = self.to_q(x)
        if inverse_temperature is not None:
            q = q * inverse_temperature[:, None, None].to(q.dtype)
        out = attention(q, self.to_k(x), self.to_v(x), HEADS)
        return self.to_out[0](out)


class GEGLU(nn.Module):
    """Linear C->8C split into value and gate: value * gelu(gate)."""

    def __init__(self, channels):
        super().__init__()
        self.proj = nn.Linear(channels, channels * 8)

    def forward(self, x):
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU feed-forward (keys ff.net.0.proj, ff.net.2): C -> 4C (gated) -> C."""

    def __init__(self, channels):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(channels), nn.Dropout(0.0), nn.Linear(channels * 4, channels)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class TemporalTransformerBlock(nn.Module):
    def __init__(self, channels, max_len):
        super().__init__()
        self.attention_blocks = nn.ModuleList([TemporalAttention(channels, max_len) for _ in range(2)])
        self.norms = nn.ModuleList([nn.LayerNorm(channels) for _ in range(2)])
        self.ff = FeedForward(channels)
        self.ff_norm = nn.LayerNorm(channels)

    def forward(self, x, inverse_temperature=None, attention=sdpa_attention):
        for attn, norm in zip(self.attention_blocks, self.norms):
            x = attn(norm(x), inverse_temperature, attention) + x
        return self.ff(self.ff_norm(x)) + x


class TemporalTransformer3D(nn.Module):
    def __init__(self, channels, max_len):
        super().__init__()
        self.norm = nn.GroupNorm(32, channels, eps=1e-6, affine=True)
        self.proj_in = nn.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList([TemporalTransformerBlock(channels, max_len)])
        self.proj_out = nn.Linear(channels, channels)

    def forward(self, x, num_frames, inverse_temperature=None, attention=sdpa_attention):
        batch_frames, channels, height, width = x.shape
        residual = x
        h = self.norm(x)  # [B*F, C, h, w]: each frame on its own
        h = rearrange(h, "(b f) c h w -> (b h w) f c", f=num_frames)
        h = self.proj_in(h)
        for block in self.transformer_blocks:
            h = block(h, inverse_temperature, attention)
        h = self.proj_out(h)
        h = rearrange(h, "(b h w) f c -> (b f) c h w", h=height, w=width)
        return h + residual


class MotionModule(nn.Module):
    """AnimateDiff `VanillaTemporalModule`: x [B*F, C, h, w] -> same shape."""

    def __init__(self, channels, max_len=32):
        super().__init__()
        if channels % 32 or channels % HEADS:
            raise ValueError(f"motion module width {channels} must be a multiple of 32")
        self.channels = channels
        self.max_len = max_len
        self.temporal_transformer = TemporalTransformer3D(channels, max_len)

    @property
    def dtype(self):
        return self.temporal_transformer.proj_in.weight.dtype

    def forward(self, x, num_frames, temperature=None, attention=sdpa_attention):
        """temperature: None, or a [H', W'] map (PTM) resized (nearest) to this layer's h x w."""
        batch_frames, channels, height, width = x.shape
        if channels != self.channels:
            raise ValueError(f"motion module for {self.channels} channels got {channels}")
        if num_frames < 1 or batch_frames % num_frames:
            raise ValueError(f"batch of {batch_frames} is not a whole number of {num_frames}-frame chunks")
        inverse = None
        if temperature is not None:
            inverse = inverse_temperature_rows(temperature, height, width, batch_frames // num_frames, x.device)
        out = self.temporal_transformer(x.to(self.dtype), num_frames, inverse, attention)
        return out.to(x.dtype)


def inverse_temperature_rows(temperature, height, width, chunks, device):
    """T [H', W'] -> 1/T per attention row [(chunks * h * w)], T resized with PyTorch's legacy nearest."""
    t = torch.as_tensor(temperature, dtype=torch.float32, device=device)
    if t.ndim != 2:
        raise ValueError(f"the temperature map must be 2-D [H, W], got shape {tuple(t.shape)}")
    t = F.interpolate(t[None, None], size=(height, width), mode="nearest")[0, 0]
    return (1.0 / t).reshape(-1).repeat(chunks)
