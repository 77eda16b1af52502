"""Cross-frame GroupNorm in the res blocks (AnimateDiff v1 / TCAN's 3-D blocks) via object patches.

Each affected GroupNorm (ResBlock in_layers.0 / out_layers.0, and the UNet's out.0) is replaced on
the clone by a *view* of itself: an instance of a subclass of the norm's own class (ComfyUI's cast
op) that shares the original's parameter dict, so the weights keep their names and ComfyUI's weight
patches ("set" patches of a TCAN UNet file, a user's LoRA on a norm, low-VRAM casting through
weight_function) reach them as they reach any GroupNorm. Only forward differs: statistics span the
frames of each chunk when the batch holds whole chunks of several frames.

How many frames a chunk holds comes from a FrameCount the caller keeps current (the UNet's
DIFFUSION_MODEL wrapper, the ControlNet's chunk loop). Outside such a call the norm is per frame.
No global state: each clone gets its own views and counter.
"""

import torch

from ..temporal.group_norm import cross_frame_group_norm
from .transformer_options import chunk_count, tcan_state

WRAPPER_KEY = "tcan_cross_frame_norm"


class FrameCount:
    """Frames per chunk of the batch now in the network (None or 1: normalise each frame alone)."""

    def __init__(self):
        self.frames = None


class _CrossFrame:
    """Mixin for a GroupNorm class: forward with statistics across the frames of each chunk."""

    frame_count = None

    def forward(self, x):
        frames = self.frame_count.frames if self.frame_count is not None else None
        if not frames or frames <= 1 or x.shape[0] % frames:
            return super().forward(x)
        if getattr(self, "comfy_cast_weights", False) or getattr(self, "weight_function", None) \
                or getattr(self, "bias_function", None):
            import comfy.ops

            weight, bias = comfy.ops.cast_bias_weight(self, x)  # ComfyUI's cast path, weight functions included
        else:
            weight, bias = self.weight, self.bias
        return cross_frame_group_norm(x, frames, self.num_groups, weight, bias, self.eps)


_CLASSES = {}


def _cross_frame_class(base):
    if base not in _CLASSES:
        _CLASSES[base] = type(f"CrossFrame{base.__name__}", (_CrossFrame, base), {})
    return _CLASSES[base]


def cross_frame_view(norm, frame_count):
    """A module that is `norm` with a cross-frame forward: same class family, same parameter dict
    (parameters replaced by weight patching show in both), nothing else of the original's state
    (e.g. ComfyUI's per-load flags) carried over. A view of a view is a view of the original."""
    base = type(norm).__bases__[1] if isinstance(norm, _CrossFrame) else type(norm)
    view = _cross_frame_class(base).__new__(_cross_frame_class(base))
    torch.nn.Module.__init__(view)
    view._parameters = norm._parameters
    view._buffers = norm._buffers
    for name in ("num_groups", "num_channels", "eps", "affine"):
        setattr(view, name, getattr(norm, name))
    view.training = norm.training
    view.frame_count = frame_count
    return view


def group_norm_paths(network, final_norm=True):
    """Attribute paths (from the network) of the GroupNorms TCAN runs across frames: every ResBlock's
    in_layers.0 and out_layers.0, and the UNet's final out.0."""
    from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

    paths = []
    for name, module in network.named_modules():
        if isinstance(module, ResBlock):
            paths += [f"{name}.in_layers.0", f"{name}.out_layers.0"]
    if final_norm and isinstance(getattr(network, "out", None), torch.nn.Sequential):
        paths.append("out.0")
    return [p for p in paths if isinstance(network.get_submodule(p), torch.nn.GroupNorm)]


def add_cross_frame_views(patcher, network, prefix, frame_count, final_norm=True):
    """Object patches on `patcher` replacing the network's res-block GroupNorms by cross-frame views.
    The originals come through the patcher: while another clone of the same model is loaded, the
    network holds that clone's patches."""
    for path in group_norm_paths(network, final_norm):
        name = f"{prefix}{path}"
        patcher.add_object_patch(name, cross_frame_view(patcher.get_model_object(name), frame_count))


def frames_per_chunk(x, transformer_options):
    """Frames of each cond/uncond chunk of a UNet batch; 1 in the appearance pass, whose images are
    each normalised alone (TCAN's appearance encoder is a 2-D UNet)."""
    if tcan_state(transformer_options).get("reference_pass"):
        return 1
    return x.shape[0] // chunk_count(transformer_options)


def apply_cross_frame_group_norm(patcher):
    """Register the views and the frame-count wrapper on a (cloned) UNet patcher."""
    from comfy.patcher_extension import WrappersMP

    frame_count = FrameCount()
    add_cross_frame_views(patcher, patcher.model.diffusion_model, "diffusion_model.", frame_count)

    def set_frames(executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
        previous, frame_count.frames = frame_count.frames, frames_per_chunk(x, transformer_options)
        try:
            return executor(x, timesteps, context, y, control, transformer_options, **kwargs)
        finally:
            frame_count.frames = previous

    patcher.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY, set_frames)
    return patcher
