"""An independent transcription of the official TCAN retargeting (tcan.md §14.2-14.3), used as oracle.

Written from the reference's tables in its own style (dicts, loops, -1 for missing) and sharing
no code with tcan_core. One choice is ours, as the reference asks: the final neck translation is
done in consistent units (driving neck motion since the first frame, scaled by the reference /
first-frame head-size ratio, in reference pixels). `truncate=True` keeps the official int64
truncation of every displacement; `truncate=False` removes it (tcan.md B9).
"""

import math

import numpy as np

LIMB = {0: [1, 0], 1: [0, 1], 2: [1, 2], 3: [2, 3], 4: [3, 4], 5: [1, 5], 6: [5, 6], 7: [6, 7], 8: [1, 8],
        9: [8, 9], 10: [9, 10], 11: [1, 11], 12: [11, 12], 13: [12, 13], 14: [0, 14], 15: [0, 15],
        16: [14, 16], 17: [15, 17]}
SUB_NODES = {0: [14, 15, 16, 17], 2: [3, 4], 3: [4], 5: [6, 7], 6: [7], 8: [9, 10], 9: [10],
             11: [12, 13], 12: [13], 14: [16], 15: [17]}
STAGE_NODES = {1: [2, 5, 8, 11, 14, 15], 2: [3, 6, 9, 12, 16, 17], 3: [4, 7, 10, 13]}
PAIRS = [(2, 5), (3, 6), (4, 7), (8, 11), (9, 12), (10, 13), (14, 15), (16, 17)]


def _direction(start, end, ratio, truncate):
    d = (end - start) * (ratio - 1)
    return d.astype(np.int64) if truncate else d


def _length(kp, a, b):
    return math.sqrt(float(((kp[a] - kp[b]) ** 2).sum()))


def official_retarget(driving, first, source, driving_subset, source_subset, truncate=True):
    """driving/first/source: [18, 2] pixel coordinates (driving and first in the driving image,
    source in the reference image); *_subset: [18] index or -1. Returns [18, 2] reference pixels."""
    dri = driving.astype(np.float64).copy()
    src = source.astype(np.float64)
    src_pivot = _length(src, 0, 1)
    dri_pivot = _length(dri, 0, 1)
    disp = _direction(dri[1], dri[0], src_pivot / dri_pivot, truncate)
    for n in [0] + SUB_NODES[0]:
        dri[n] = dri[n] + disp
    dri_pivot = _length(dri, 0, 1)

    dri_ratio, src_ratio = {}, {}
    for i in range(2, 18):
        p, c = LIMB[i]
        dri_ratio[i] = _length(dri, p, c) / dri_pivot if driving_subset[i] != -1 else -1
        src_ratio[i] = _length(src, p, c) / src_pivot if source_subset[i] != -1 else -1
    for a, b in PAIRS:
        src_ratio[a] = src_ratio[b] = max(src_ratio[a], src_ratio[b])

    for stage in (1, 2, 3):
        for node in STAGE_NODES[stage]:
            p, c = LIMB[node]
            ff = min(max(_length(driving, p, c) / _length(first, p, c), 0.0), 1.1)
            if src_ratio[node] < 0.1 or dri_ratio[node] < 0.1:
                continue
            ratio = src_ratio[node] / dri_ratio[node] * ff
            d = _direction(dri[p], dri[c], ratio, truncate)
            for n in [node] + SUB_NODES.get(node, []):
                dri[n] = dri[n] + d

    first_pivot = _length(first, 0, 1)
    target_neck = src[1] + (driving[1] - first[1]) * (src_pivot / first_pivot)
    return dri + (target_neck - dri[1])
