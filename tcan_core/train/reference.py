"""Reference attention for training (tcan.md 5): the appearance UNet writes, the denoising UNet reads.

The appearance UNet records, at the 10 mid/up transformer blocks, the input of self-attention
(norm1's output); the denoising UNet's attn1 at the same 10 sites takes K/V from
[own tokens, reference tokens] through the same projections (APPA LoRA included). Both sides are
diffusers attention processors wrapping whatever processor the block had, so the attention kernel
is diffusers' own. The recorded tokens are not detached: in stage 1 the appearance UNet learns
through the reader's attention. The concatenation is the pack's `extend_self_attention_context`,
the same maths Load TCAN runs at inference; rows without the reference (the 10% drop) get exactly
plain self-attention.
"""

import torch

from ..appearance import extend_self_attention_context

SITES = ("mid_block.attentions.0.transformer_blocks.0",
         *(f"up_blocks.{i}.attentions.{j}.transformer_blocks.0" for i in (1, 2, 3) for j in range(3)))


class Bank:
    """Reference tokens of the current step: {site: [R, L, C]}, and which rows see them."""

    def __init__(self):
        self.tokens = {}
        self.keep = None  # bool [R]: reference kept per reference image (None: all)

    def clear(self):
        self.tokens, self.keep = {}, None


class _Processor:
    def __init__(self, bank, site, inner):
        self.bank, self.site, self.inner = bank, site, inner

    def _call_inner(self, attn, hidden_states, context, attention_mask, temb):
        return self.inner(attn, hidden_states, encoder_hidden_states=context, attention_mask=attention_mask, temb=temb)


class WriterProcessor(_Processor):
    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        self.bank.tokens[self.site] = hidden_states
        if self.site == SITES[-1]:  # nothing after the last recorded site is used: skip its attention
            return torch.zeros_like(hidden_states)
        return self._call_inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)


class ReaderProcessor(_Processor):
    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, **_):
        reference = self.bank.tokens.get(self.site)
        if reference is None:
            return self._call_inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        rows = hidden_states.shape[0]
        if rows % reference.shape[0]:
            raise ValueError(f"{rows} rows of attention input for {reference.shape[0]} reference images")
        per_reference = rows // reference.shape[0]  # frames of each clip share their clip's reference
        keep = self.bank.keep
        keep = torch.ones(reference.shape[0], dtype=torch.bool) if keep is None else keep
        context = extend_self_attention_context(
            hidden_states, reference.repeat_interleave(per_reference, 0).unsqueeze(1),
            keep.to(hidden_states.device).repeat_interleave(per_reference))
        return self._call_inner(attn, hidden_states, context, attention_mask, temb)


def _install(unet, bank, processor_class):
    for site in SITES:
        attn1 = unet.get_submodule(site).attn1
        inner = attn1.processor
        if isinstance(inner, _Processor):
            inner = inner.inner
        attn1.set_processor(processor_class(bank, site, inner))


def install_writer(appearance_unet, bank):
    _install(appearance_unet, bank, WriterProcessor)


def install_reader(unet, bank):
    _install(unet, bank, ReaderProcessor)


# What the appearance UNet computes after the last recorded norm1 reaches nothing: TCAN's file omits
# these weights (tcan.md 11.1: the final block's 20 tensors, and conv_norm_out/conv_out), so the
# trainer neither trains nor saves them.
UNUSED_PREFIXES = tuple(f"up_blocks.3.attentions.2.{name}" for name in (
    "transformer_blocks.0.attn1.", "transformer_blocks.0.norm2.", "transformer_blocks.0.attn2.",
    "transformer_blocks.0.norm3.", "transformer_blocks.0.ff.", "proj_out.")) + ("conv_norm_out.", "conv_out.")


def is_unused_by_reference(name):
    return name.startswith(UNUSED_PREFIXES)
