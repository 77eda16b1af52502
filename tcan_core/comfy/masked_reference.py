"""Masked reference attention for TPC's calibrated references, at the reference-attention sites.

An attn1 replace patch on top of ReferenceAttention's extended K/V [own, reference, calibrated]:
- always: calibrated tokens outside the calibrated (warped) reference person are never attended to
  (TPC screens the background out of calibrated images; the background comes from the reference);
- with the driving masks (Sample Long Video's `tpc_attention_masks`, the public TPC code): queries
  inside the driving person see their own tokens and the calibrated person's tokens; background
  queries see their own tokens and the reference's background tokens (tcan_core.appearance.masking).
Rows without reference tokens (uncond, TCAN's convention) keep plain self-attention.

The masks come per model evaluation in transformer_options["tcan"] (set by the long-video sampler):
    "reference_masks": [R, h, w] person mask of each recorded reference image
    "reference_calibrated": bool [R], which recorded images are calibrated (else the reference)
    "query_masks": [N, h, w] driving person per frame (absolute frame index), only with TPC's masks
"""

import torch

from ..appearance.masking import (
    extra_key_permissions,
    masked_reference_attention,
    screened_key_permissions,
    token_masks,
)
from .reference_attention import ReferenceStrength, fusion_sites, reference_rows, row_slots
from .transformer_options import tcan_state


class MaskedReferenceAttention(ReferenceStrength):
    def __init__(self, strength=1.0, uncond_reference=False):
        super().__init__(strength)
        self.uncond_reference = uncond_reference

    def attend(self, q, k, v, extra_options):
        from comfy.ldm.modules.attention import optimized_attention

        state = tcan_state(extra_options)
        if state.get("reference_masks") is None:
            return super().attend(q, k, v, extra_options)
        kinds = extra_options.get("cond_or_uncond") or [0]
        frames = q.shape[0] // len(kinds)
        grid = extra_options["activations_shape"][-2:]
        if grid[0] * grid[1] != q.shape[1]:
            raise ValueError(f"{q.shape[1]} query tokens do not fit the {grid[0]}x{grid[1]} token grid")
        slots = row_slots(state, frames, len(kinds))
        if slots is None:
            raise ValueError("masked reference attention needs the calibrated references (a calibration)")
        person_tokens = token_masks(state["reference_masks"], grid)[slots]
        calibrated = torch.as_tensor(state["reference_calibrated"], dtype=torch.bool)[slots]
        if state.get("query_masks") is None:  # every query: the whole reference, the calibrated person only
            person_queries = torch.ones(q.shape[:2], dtype=torch.bool)
            person_keys = background_keys = screened_key_permissions(person_tokens, calibrated)
        else:
            window = torch.as_tensor(state.get("frames") or list(range(frames)))
            person_queries = token_masks(state["query_masks"][window], grid).repeat(len(kinds), 1)
            person_keys, background_keys = extra_key_permissions(person_tokens, calibrated)
        # rows without reference carry copies of their own tokens: all keys allowed = plain attention
        plain = ~reference_rows(kinds, frames, self.uncond_reference)
        person_keys[plain] = True
        background_keys[plain] = True

        def attention(q, k, v, heads, mask):
            return optimized_attention(q, k, v, heads, mask=mask)

        return masked_reference_attention(q, k, v, extra_options["n_heads"], person_queries, person_keys,
                                          background_keys, attention)


def apply_masked_reference_attention(patcher, strength=1.0, uncond_reference=False):
    """Register the masked reference attention on a (cloned) patcher that has reference attention."""
    patch = MaskedReferenceAttention(strength, uncond_reference)
    for name, number, index in fusion_sites(patcher.model.diffusion_model):
        patcher.set_model_attn1_replace(patch, name, number, index)
    return patch
