"""What the pack passes to its patches through ComfyUI's transformer_options.

transformer_options["tcan"] is a dict set per window by the sampler (absent = all frames, no PTM):
    "temperature": float tensor [H', W'] — the window's PTM (None: no PTM)
    "frames": list[int] — absolute indices of the window's frames in the clip
    "latents": [N, 4, h, w] — the whole clip's latents at this evaluation (temporal ControlNet chunks)
    "num_frames": int — N
    "evaluation": int — index of the sampler's model evaluation (one appearance pass each)
    "reference_latent": [R, 4, h, w] — clean reference latent(s) in model space (reference attention)
    "reference_slots": long [N, S] — per frame, which recorded references it attends to (TPC)
    "reference_pass": bool — set during the appearance pass itself
    "query_masks": [N, h, w] — driving person per frame, latent resolution (TPC masks, masked_reference.py)
    "reference_masks": [R, h, w] — person mask of each recorded reference image (TPC masks)
    "reference_calibrated": bool [R] — which recorded images are calibrated, else the reference (TPC masks)
    "reference_context": [1, L, C] — the positive prompt's text, for the appearance pass
    "control_context": [1, L, C] — the positive prompt's ControlNet text, for the temporal ControlNet
"""

KEY = "tcan"


def tcan_state(transformer_options):
    return transformer_options.get(KEY) or {}


def chunk_count(transformer_options):
    """Number of cond/uncond chunks in the batch; each chunk holds all frames of the window."""
    return max(1, len(transformer_options.get("cond_or_uncond") or [0]))


def positive_context(context, kinds, per_chunk):
    """The text of the positive (cond) chunk of a batch [1, L, C]; ComfyUI puts uncond first in a joint
    batch, so row 0 is not it. A batch without a cond chunk gives its first row."""
    chunk = kinds.index(0) if 0 in kinds else 0
    return context[chunk * per_chunk:chunk * per_chunk + 1]
