"""GroupNorm with statistics shared across the frames of each chunk (AnimateDiff v1 / TCAN).

TCAN's 3D res blocks apply GroupNorm to [b, c, f, h, w] tensors, so each group's mean and variance
span all frames of the window (separately for each cond/uncond chunk).
"""

import torch.nn.functional as F


def cross_frame_group_norm(x, num_frames, num_groups, weight, bias, eps):
    """x [B*F, C, h, w] with frames of each chunk contiguous -> normalised like a [B, C, F, h, w] tensor."""
    batch_frames, channels = x.shape[:2]
    if num_frames <= 1 or batch_frames % num_frames:
        return F.group_norm(x, num_groups, weight, bias, eps)
    chunks = batch_frames // num_frames
    # [B*F, C, ...] -> [B, C, F, ...]: group statistics then cover (C/G) x F x h x w
    y = x.reshape(chunks, num_frames, channels, *x.shape[2:]).transpose(1, 2)
    y = F.group_norm(y, num_groups, weight, bias, eps)
    return y.transpose(1, 2).reshape(x.shape)


GROUPNORM_MODES = ("auto", "across frames", "per frame")


def is_v2_module_set(modules):
    """AnimateDiff v2 modules: a mid-block module or a position encoding longer than v1's 24 frames."""
    return any(name.startswith("mid_block") for name in modules) or max(m.max_len for m in modules.values()) > 24


def cross_frame_norm_for(mode, modules=None, tcan_trained=False):
    """Whether res-block GroupNorm statistics span the frames of a window.

    auto: across frames for layers TCAN trained (its ResnetBlock3D normalises [b, c, f, h, w], whichever
    AnimateDiff version initialised training) and for AnimateDiff v1 modules (trained so); per frame
    for v2 modules in zero-shot use (AnimateDiff v2's inference normalises each frame)."""
    if mode not in GROUPNORM_MODES:
        raise ValueError(f"groupnorm must be one of {GROUPNORM_MODES}, got {mode!r}")
    if mode == "auto":
        return bool(tcan_trained) or (modules is not None and not is_v2_module_set(modules))
    return mode == "across frames"
