"""Temporal layers in diffusers networks: AnimateDiff motion modules and cross-frame GroupNorm.

Frames of a clip are contiguous rows of the batch ([B*F, C, h, w]), as in the pack's ComfyUI
patches. A `Frames` object, shared by every patched module, says how many frames one clip has
(1 in stage 1: plain 2D behaviour).

Motion modules are the pack's `MotionModule`, registered as `<block>.motion_modules.<j>` so the
network's state dict has AnimateDiff's own keys (what TCAN's [UNet] and [ControlNetT] files hold),
and run by a forward hook after the block's j-th attention (else its j-th resnet): the places of
tcan.md 6 (UNet: every down and up level) and 7 (ControlNet: down blocks 2 and 3).
"""

import re

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..temporal import cross_frame_group_norm

_MODULE = re.compile(r"^((?:down|up)_blocks\.\d+)\.motion_modules\.(\d+)$")
CONTROLNET_BLOCKS = ("down_blocks.2", "down_blocks.3")


class Frames:
    def __init__(self, count=1):
        self.count = count


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm whose statistics span the frames of each clip (TCAN's 3D res blocks, tcan.md 10)."""

    frames = None

    def forward(self, x):
        count = self.frames.count if self.frames is not None else 1
        return cross_frame_group_norm(x, count, self.num_groups, self.weight, self.bias, self.eps)


def _swap_norm(parent, attr, frames):
    old = getattr(parent, attr)
    new = FrameGroupNorm(old.num_groups, old.num_channels, old.eps, old.affine, device="meta")
    new.weight, new.bias = old.weight, old.bias  # the same Parameters: names, values, optimizer state
    new.frames = frames
    setattr(parent, attr, new)


def use_cross_frame_group_norm(model, frames):
    """Every res block's norm1/norm2 (and a UNet's conv_norm_out) normalise across frames."""
    count = 0
    for name, module in list(model.named_modules()):
        if name.endswith(tuple(f"resnets.{i}" for i in range(8))) and hasattr(module, "norm1"):
            for attr in ("norm1", "norm2"):
                _swap_norm(module, attr, frames)
                count += 1
    if isinstance(getattr(model, "conv_norm_out", None), nn.GroupNorm):
        _swap_norm(model, "conv_norm_out", frames)
        count += 1
    return count


def _hook(motion, frames, model):
    def run(module, args, output):
        x = output[0] if isinstance(output, tuple) else output
        if getattr(model, "is_gradient_checkpointing", False) and torch.is_grad_enabled():
            y = checkpoint(motion, x, frames.count, use_reentrant=False)
        else:
            y = motion(x, frames.count)
        return (y, *output[1:]) if isinstance(output, tuple) else y
    return run


def add_motion_modules(model, modules, frames, blocks=None):
    """Insert {"down_blocks.0.motion_modules.0": MotionModule, ...} into `model` (in place).

    blocks: the block names to take modules for (None: all that `model` has, mid block excluded:
    TCAN has none there); the others are ignored. -> names of the modules inserted.
    """
    inserted = []
    for name in sorted(modules, key=lambda n: (n.split(".")[0], int(n.split(".")[1]), int(n.split(".")[-1]))):
        match = _MODULE.match(name)
        if not match or (blocks is not None and match.group(1) not in blocks):
            continue
        block_name, j = match.group(1), int(match.group(2))
        try:
            block = model.get_submodule(block_name)
        except AttributeError:
            continue
        anchors = block.attentions if getattr(block, "attentions", None) else block.resnets
        if j >= len(anchors):
            raise ValueError(f"motion module {name}: {block_name} has only {len(anchors)} layers")
        module = modules[name]
        width = block.resnets[j].out_channels
        if module.channels != width:
            raise ValueError(f"motion module {name} is {module.channels} wide; {block_name} is {width} wide "
                             "(an SD1.5 AnimateDiff module is needed)")
        if not hasattr(block, "motion_modules"):
            block.motion_modules = nn.ModuleList()
        while len(block.motion_modules) <= j:
            block.motion_modules.append(nn.Identity())
        block.motion_modules[j] = module
        anchors[j].register_forward_hook(_hook(module, frames, model))
        inserted.append(name)
    return inserted

