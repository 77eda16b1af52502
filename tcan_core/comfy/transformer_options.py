"""What the pack passes to its patches through ComfyUI's transformer_options.

transformer_options["tcan"] is a dict set per window by the sampler (absent = all frames, no PTM):
    "temperature": float tensor [H', W'] — the window's PTM (None: no PTM)
    "frames": list[int] — indices of the window's frames in the whole clip (informational here)
"""

KEY = "tcan"


def tcan_state(transformer_options):
    return transformer_options.get(KEY) or {}


def chunk_count(transformer_options):
    """Number of cond/uncond chunks in the batch; each chunk holds all frames of the window."""
    return max(1, len(transformer_options.get("cond_or_uncond") or [0]))
