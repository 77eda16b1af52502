"""Reference attention in ComfyUI's SD1.5 UNet (TCAN's appearance injection), zero-shot or with an
appearance net.

Once per model evaluation (the first UNet call of a new window_context.Evaluation that carries
References) the appearance pass runs the appearance UNet on the clean reference latent(s) at that
timestep with the positive text, and records norm1's output in the mid block and the 9 up-block
transformer blocks (attn1_patch). Every UNet call of the evaluation (all its windows) then extends
those blocks' self-attention K/V with the recorded tokens; rows of uncond chunks keep plain
self-attention unless `uncond_reference` is set. One attn1 replace patch at the same sites decides
how the extended K/V are attended, in one place: the reference strength (a blend with plain
attention) and TPC's key masks (calibrated background never attended; with the driving masks, the
public TPC code's person/background split, tcan_core.appearance.masking).

The references are clean latents in model space (the VAE latent with the model's process_latent_in
applied, no noise, no c_in scaling) at the frames' latent size; Sample Long Video provides them
(the reference, plus TPC's calibrated images). In zero-shot mode the appearance net is the
denoising UNet itself (its motion modules and ControlNet are off during the appearance pass). The
recorded tokens live until the next evaluation or the end of the run (ComfyUI's cleanup callback).
"""

import torch

from ..appearance.masking import (
    extra_key_permissions,
    masked_reference_attention,
    screened_key_permissions,
    token_masks,
)
from ..appearance.reference import ReferenceBank, extend_self_attention_context
from .window_context import as_reference_pass, is_reference_pass, positive_context, window_of

WRAPPER_KEY = "tcan_reference_attention"
FUSION_BLOCKS = ("middle", "output")  # TCAN's "midup": mid block and up blocks only


def attention_site(extra_options):
    block = extra_options.get("block")
    if not block or block[0] not in FUSION_BLOCKS:
        return None
    return (block[0], block[1], extra_options.get("block_index", 0))


def reference_rows(kinds, frames, uncond_reference):
    """bool [rows]: the batch rows that attend to the reference (cond chunks; uncond ones only with
    uncond_reference, TCAN's CFG convention is without)."""
    return torch.tensor([kind == 0 or uncond_reference for kind in kinds for _ in range(frames)])


def row_slots(window, references, frames, chunks):
    """[rows, S] indices into the recorded images for each row of the batch (the window's frames'
    slots, per chunk); None when every frame attends to every image."""
    if references.slots is None:
        return None
    if len(window.frames) != frames:
        raise ValueError(f"reference slots for {len(window.frames)} window frames but {frames} frames per chunk")
    return references.slots[torch.as_tensor(window.frames)].repeat(chunks, 1)


class ReferenceAttention:
    """attn1_patch, attn1 replace patch and DIFFUSION_MODEL wrapper sharing one ReferenceBank; one
    instance per patched MODEL. strength: 1 is TCAN; 0 ignores the reference; others blend."""

    def __init__(self, uncond_reference=False, appearance=None, strength=1.0):
        self.bank = ReferenceBank()
        self.uncond_reference = uncond_reference
        self.appearance = appearance  # callable(x, t, context, transformer_options) or None = the UNet itself
        self.strength = float(strength)

    # -- attn1_patch: record in the appearance pass, extend K/V in the windows ------------------------
    def __call__(self, n, context_attn1, value_attn1, extra_options):
        site = attention_site(extra_options)
        if site is None:
            return n, context_attn1, value_attn1
        if is_reference_pass(extra_options):
            self.bank.record(site, n)
            return n, context_attn1, value_attn1
        tokens = self.bank.get(site)
        window = window_of(extra_options)
        if tokens is None or window is None:
            return n, context_attn1, value_attn1
        kinds = extra_options.get("cond_or_uncond") or [0]
        frames = n.shape[0] // len(kinds)
        slots = row_slots(window, window.evaluation.references, frames, len(kinds))
        if slots is not None:  # TPC: per frame, the reference and its group's calibrated image
            tokens = tokens[slots.to(tokens.device)]
        extended = extend_self_attention_context(n, tokens, reference_rows(kinds, frames, self.uncond_reference))
        return n, extended, extended

    # -- attn1 replace patch: how [own tokens, recorded tokens] are attended --------------------------
    def attend(self, q, k, v, extra_options):
        from comfy.ldm.modules.attention import optimized_attention

        heads = extra_options["n_heads"]
        own = q.shape[1]
        if k.shape[1] == own:  # no reference in this call
            return optimized_attention(q, k, v, heads)
        with_reference = self._masked(q, k, v, extra_options)
        if self.strength == 1.0:
            return with_reference
        plain = optimized_attention(q, k[:, :own], v[:, :own], heads)
        return plain + self.strength * (with_reference - plain)

    def _masked(self, q, k, v, extra_options):
        """Attention over [own tokens, recorded tokens] with TPC's key masks when the references have
        person masks (MagicAnimate's plain concatenation otherwise)."""
        from comfy.ldm.modules.attention import optimized_attention

        heads = extra_options["n_heads"]
        window = window_of(extra_options)
        references = window.evaluation.references
        if references.masks is None:
            return optimized_attention(q, k, v, heads)
        kinds = extra_options.get("cond_or_uncond") or [0]
        frames = q.shape[0] // len(kinds)
        grid = extra_options["activations_shape"][-2:]
        if grid[0] * grid[1] != q.shape[1]:
            raise ValueError(f"{q.shape[1]} query tokens do not fit the {grid[0]}x{grid[1]} token grid")
        slots = row_slots(window, references, frames, len(kinds))
        if slots is None:
            raise ValueError("masked reference attention needs per-frame reference slots (TPC's calibration)")
        person_tokens = token_masks(references.masks, grid)[slots]
        calibrated = torch.as_tensor(references.calibrated, dtype=torch.bool)[slots]
        if references.query_masks is None:  # every query: the whole reference, the calibrated person only
            person_queries = torch.ones(q.shape[:2], dtype=torch.bool)
            person_keys = background_keys = screened_key_permissions(person_tokens, calibrated)
        else:
            frame_index = torch.as_tensor(window.frames)
            person_queries = token_masks(references.query_masks[frame_index], grid).repeat(len(kinds), 1)
            person_keys, background_keys = extra_key_permissions(person_tokens, calibrated)
        # rows without reference carry copies of their own tokens: all keys allowed = plain attention
        plain = ~reference_rows(kinds, frames, self.uncond_reference)
        person_keys[plain] = True
        background_keys[plain] = True

        def attention(q, k, v, heads, mask):
            return optimized_attention(q, k, v, heads, mask=mask)

        return masked_reference_attention(q, k, v, heads, person_queries, person_keys, background_keys, attention)

    # -- DIFFUSION_MODEL wrapper: one appearance pass per model evaluation ----------------------------
    def wrapper(self, executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
        window = window_of(transformer_options)
        if not is_reference_pass(transformer_options):
            references = window.evaluation.references if window is not None else None
            if references is None:
                self.bank.clear()
            elif self.bank.step is not window.evaluation:  # this evaluation's own object, held by the bank
                self.bank.clear(window.evaluation)
                self._record(executor, references.latents, timesteps, context, transformer_options)
        return executor(x, timesteps, context, y, control, transformer_options, **kwargs)

    def _record(self, executor, reference, timesteps, context, transformer_options):
        """Appearance pass: clean reference latent(s) at this timestep, each image its own chunk, with the
        positive prompt's text (the window loop's, else the batch's cond rows: a joint batch is uncond
        first).

        Zero-shot, the pass re-enters the UNet through its whole wrapper chain, so every wrapper (the
        frame count of the motion modules and cross-frame GroupNorm among them) sees that this is a
        2-D pass of single images."""
        count = reference.shape[0]
        options = as_reference_pass(transformer_options)
        options["cond_or_uncond"] = [0] * count
        ref_x = reference.to(device=context.device if context is not None else timesteps.device)
        ref_t = timesteps.reshape(-1)[:1].expand(count)
        ref_context = None
        if context is not None:
            text = window_of(transformer_options).evaluation.reference_text
            if text is None:
                kinds = list(transformer_options.get("cond_or_uncond") or [0])
                text = positive_context(context, kinds, context.shape[0] // len(kinds))
            ref_context = text.to(device=context.device, dtype=context.dtype).expand(count, -1, -1)
        with torch.no_grad():
            if self.appearance is None:
                executor.class_obj(ref_x, ref_t, context=ref_context, transformer_options=options)
            else:
                self.appearance(ref_x, ref_t, ref_context, options)


def fusion_sites(diffusion_model):
    """(block name, block id, index) of every self-attention TCAN feeds the reference into."""
    from comfy.ldm.modules.attention import SpatialTransformer

    sites = []
    for name, blocks in (("middle", [diffusion_model.middle_block]), ("output", diffusion_model.output_blocks)):
        for number, block in enumerate(blocks):
            for layer in block:
                if isinstance(layer, SpatialTransformer):
                    sites += [(name, number, i) for i in range(len(layer.transformer_blocks))]
    return sites


def apply_reference_attention(patcher, uncond_reference=False, appearance=None, strength=1.0):
    """Register reference attention on a (cloned) UNet patcher; returns the patch object."""
    from comfy.patcher_extension import CallbacksMP, WrappersMP

    if not 0 <= strength <= 2:
        raise ValueError(f"reference strength must be in 0..2, got {strength}")
    patch = ReferenceAttention(uncond_reference=uncond_reference, appearance=appearance, strength=strength)
    patcher.set_model_attn1_patch(patch)
    for name, number, index in fusion_sites(patcher.model.diffusion_model):
        patcher.set_model_attn1_replace(patch.attend, name, number, index)
    patcher.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY, patch.wrapper)
    patcher.add_callback_with_key(CallbacksMP.ON_CLEANUP, WRAPPER_KEY, lambda _: patch.bank.clear())
    return patch
