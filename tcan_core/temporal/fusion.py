"""Per-frame weights for averaging overlapping windows (MultiDiffusion along time).

uniform: every window counts the same (TCAN). weighted: a triangular profile that trusts a window
least at its ends, hiding the seams where windows start and stop; a frame that only one window
covers keeps full weight, so the clip's first and last frames are unaffected.
"""

import numpy as np

FUSIONS = ("uniform", "weighted")


def window_weights(length, fusion="uniform"):
    """Weights [length] for the frames of one window (all > 0)."""
    if fusion == "uniform":
        return np.ones(length)
    if fusion == "weighted":
        k = np.arange(length)
        return np.minimum(k + 1, length - k).astype(np.float64)
    raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")


def frame_weights(windows, num_frames, fusion="uniform"):
    """[len(windows), length] weights normalised so each frame's weights over its windows sum to 1."""
    raw = [window_weights(len(w), fusion) for w in windows]
    total = np.zeros(num_frames)
    for w, r in zip(windows, raw):
        np.add.at(total, w, r)
    if (total <= 0).any():
        raise ValueError(f"frames {np.flatnonzero(total <= 0)[:5].tolist()} are in no window")
    return [r / total[w] for w, r in zip(windows, raw)]
