"""Reference attention in ComfyUI's SD1.5 UNet (TCAN's appearance injection), zero-shot or with an
appearance net.

Once per denoising step (the first UNet call at a new timestep) the appearance pass runs the
appearance UNet on the clean reference latent(s) at that timestep and records norm1's output in the
mid block and the 9 up-block transformer blocks (attn1_patch, "reference_pass" in
transformer_options["tcan"]). Every other UNet call (all windows of the step) then extends those
blocks' self-attention K/V with the recorded tokens; rows of uncond chunks keep plain
self-attention unless `uncond_reference` is set.

The reference latent comes from transformer_options["tcan"]["reference_latent"]: [R, 4, h, w] clean
latents in model space (the VAE latent with the model's process_latent_in applied, no noise, no
c_in scaling), at the frames' latent size (Sample Long Video sets it; R > 1 adds TPC's calibrated
images). In zero-shot mode the appearance net is the denoising UNet itself (its motion
modules and ControlNet are off during the appearance pass).
"""

import torch

from ..appearance.reference import ReferenceBank, extend_self_attention_context
from .transformer_options import KEY, positive_context, tcan_state

WRAPPER_KEY = "tcan_reference_attention"
FUSION_BLOCKS = ("middle", "output")  # TCAN's "midup": mid block and up blocks only


def attention_site(extra_options):
    block = extra_options.get("block")
    if not block or block[0] not in FUSION_BLOCKS:
        return None
    return (block[0], block[1], extra_options.get("block_index", 0))


def is_reference_pass(transformer_options):
    return bool(tcan_state(transformer_options).get("reference_pass"))


def reference_rows(kinds, frames, uncond_reference):
    """bool [rows]: the batch rows that attend to the reference (cond chunks; uncond ones only with
    uncond_reference, TCAN's CFG convention is without)."""
    return torch.tensor([kind == 0 or uncond_reference for kind in kinds for _ in range(frames)])


def row_slots(state, frames, chunks):
    """[rows, S] indices into the recorded images for each row of the batch, from
    state["reference_slots"] ([num_frames, S], absolute frame indices) and the window's frames;
    None without TPC."""
    slots = state.get("reference_slots")
    if slots is None:
        return None
    window = state.get("frames") or list(range(frames))
    if len(window) != frames:
        raise ValueError(f"reference slots for {len(window)} window frames but {frames} frames per chunk")
    return slots[torch.as_tensor(window)].repeat(chunks, 1)


class ReferenceAttention:
    """attn1_patch + DIFFUSION_MODEL wrapper sharing one ReferenceBank; one instance per patched MODEL."""

    def __init__(self, uncond_reference=False, appearance=None):
        self.bank = ReferenceBank()
        self.uncond_reference = uncond_reference
        self.appearance = appearance  # callable(x, t, context, transformer_options) or None = the UNet itself

    # -- attn1_patch -----------------------------------------------------------------------
    def __call__(self, n, context_attn1, value_attn1, extra_options):
        site = attention_site(extra_options)
        if site is None:
            return n, context_attn1, value_attn1
        if is_reference_pass(extra_options):
            self.bank.record(site, n)
            return n, context_attn1, value_attn1
        tokens = self.bank.get(site)
        if tokens is None:
            return n, context_attn1, value_attn1
        kinds = extra_options.get("cond_or_uncond") or [0]
        frames = n.shape[0] // len(kinds)
        with_reference = reference_rows(kinds, frames, self.uncond_reference)
        slots = row_slots(tcan_state(extra_options), frames, len(kinds))
        if slots is not None:  # TPC: per frame, the reference and its group's calibrated image
            tokens = tokens[slots.to(tokens.device)]
        extended = extend_self_attention_context(n, tokens, with_reference)
        return n, extended, extended

    # -- DIFFUSION_MODEL wrapper -----------------------------------------------------------
    def wrapper(self, executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
        state = tcan_state(transformer_options)
        reference = state.get("reference_latent")
        if is_reference_pass(transformer_options) or reference is None:
            if reference is None:
                self.bank.clear()
            return executor(x, timesteps, context, y, control, transformer_options, **kwargs)
        # one appearance pass per model evaluation: the sampler numbers them ("evaluation"); the
        # timestep and the reference tensor also tell steps and runs apart without it
        step = (state.get("evaluation"), float(timesteps.reshape(-1)[0]), reference.data_ptr(), tuple(reference.shape))
        if self.bank.step != step:
            self.bank.clear(step)
            self._record(executor, reference, timesteps, context, transformer_options)
        return executor(x, timesteps, context, y, control, transformer_options, **kwargs)

    def _record(self, executor, reference, timesteps, context, transformer_options):
        """Appearance pass: clean reference latent(s) at this timestep, each image its own chunk, with the
        positive prompt's text (the sampler's, else the batch's cond rows: a joint batch is uncond first).

        Zero-shot, the pass re-enters the UNet through its whole wrapper chain, so every wrapper (the
        cross-frame GroupNorm's frame count among them) sees that this is a 2-D pass of single images."""
        count = reference.shape[0]
        options = dict(transformer_options)
        options[KEY] = {**tcan_state(transformer_options), "reference_pass": True}
        options["cond_or_uncond"] = [0] * count
        ref_x = reference.to(device=context.device if context is not None else timesteps.device)
        ref_t = timesteps.reshape(-1)[:1].expand(count)
        ref_context = None
        if context is not None:
            text = tcan_state(transformer_options).get("reference_context")
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


class ReferenceStrength:
    """attn1 replace patch: out = plain + strength * (with_reference - plain), as MagicAnimate's
    reference fidelity; plain = the same queries over their own tokens only."""

    def __init__(self, strength):
        self.strength = float(strength)

    def __call__(self, q, k, v, extra_options):
        from comfy.ldm.modules.attention import optimized_attention

        heads = extra_options["n_heads"]
        own = q.shape[1]
        if k.shape[1] == own:  # no reference this call
            return optimized_attention(q, k, v, heads)
        with_reference = self.attend(q, k, v, extra_options)
        if self.strength == 1.0:
            return with_reference
        plain = optimized_attention(q, k[:, :own], v[:, :own], heads)
        return plain + self.strength * (with_reference - plain)

    def attend(self, q, k, v, extra_options):
        """Attention over [own tokens, reference tokens] (subclasses mask it)."""
        from comfy.ldm.modules.attention import optimized_attention

        return optimized_attention(q, k, v, extra_options["n_heads"])


def apply_reference_attention(patcher, uncond_reference=False, appearance=None, strength=1.0):
    """Register reference attention on a (cloned) UNet patcher; returns the patch object.
    strength 1 is TCAN; 0 ignores the reference; other values blend (costs a second attention)."""
    from comfy.patcher_extension import WrappersMP

    if not 0 <= strength <= 2:
        raise ValueError(f"reference strength must be in 0..2, got {strength}")
    patch = ReferenceAttention(uncond_reference=uncond_reference, appearance=appearance)
    patcher.set_model_attn1_patch(patch)
    patcher.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY, patch.wrapper)
    if strength != 1.0:
        blend = ReferenceStrength(strength)
        for name, number, index in fusion_sites(patcher.model.diffusion_model):
            patcher.set_model_attn1_replace(blend, name, number, index)
    return patch
