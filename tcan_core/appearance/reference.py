"""Reference attention: the denoising UNet's self-attention also attends to the reference's tokens.

TCAN (after MagicAnimate) runs an appearance net on the clean reference latent once per denoising
step and records, in the mid block and the 9 up-block transformer blocks, the normalised hidden
states that feed self-attention (norm1's output). In the same blocks of the denoising UNet,
self-attention of every frame then uses K/V = [own tokens, reference tokens] (same projections).

Rows that get no reference (the uncond chunk, TCAN's CFG convention) must keep plain
self-attention while sharing one batched kernel call with the other rows, so their K/V are padded
with copies of their own tokens: with every key duplicated the same number of times, softmax weights
are unchanged, so this is exactly plain self-attention (up to float rounding).
"""

import torch


class ReferenceBank:
    """Recorded reference tokens per attention site for the current denoising step.

    site: (block name, block id, index in block), e.g. ("output", 3, 0); tokens: [R, L, C] for R
    reference images (the reference, plus TPC's calibrated images when used).
    """

    def __init__(self):
        self.tokens = {}
        self.step = None

    def clear(self, step=None):
        self.tokens = {}
        self.step = step

    def record(self, site, tokens):
        self.tokens[site] = tokens.detach()

    def get(self, site):
        return self.tokens.get(site)


def extend_self_attention_context(n, reference, with_reference):
    """Self-attention K/V input [B, L, C] -> [B, L + R*L, C].

    n: norm1 output of the batch [B, L, C]; reference: [R, L, C] tokens (R images at the same
    resolution) or [B, R, L, C] per row (TPC: different calibrated images per frame);
    with_reference: bool [B], rows that attend to the reference; the others are padded with copies
    of their own tokens (exactly plain self-attention, see the module docstring).
    """
    batch, length, channels = n.shape
    if reference.ndim == 3:
        reference = reference.unsqueeze(0).expand(batch, -1, -1, -1)
    if reference.shape[0] != batch or reference.shape[2:] != (length, channels):
        raise ValueError(
            f"reference tokens {tuple(reference.shape)} do not fit the attention input {tuple(n.shape)}: the reference "
            "must be encoded at the frames' latent size")
    count = reference.shape[1]
    own = n.unsqueeze(1).expand(-1, count, -1, -1)
    mask = torch.as_tensor(with_reference, device=n.device).reshape(batch, 1, 1, 1)
    extra = torch.where(mask, reference.to(device=n.device, dtype=n.dtype), own)
    return torch.cat([n, extra.reshape(batch, count * length, channels)], dim=1)
