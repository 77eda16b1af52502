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
