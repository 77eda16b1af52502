"""Cross-frame GroupNorm in the res blocks (AnimateDiff v1 / TCAN's 3-D blocks) via object patches.

Each affected GroupNorm (ResBlock in_layers.0 / out_layers.0, and the UNet's out.0) is replaced on
the clone by a *view* of itself: an instance of a subclass of the norm's own class (ComfyUI's cast
op) that shares the original's parameter dict, so the weights keep their names and ComfyUI's weight
patches ("set" patches of a TCAN UNet file, a user's LoRA on a norm, low-VRAM casting through
weight_function) reach them as they reach any GroupNorm. Only forward differs: statistics span the
frames of each chunk when the batch holds whole chunks of several frames.

How many frames a chunk holds comes from the network's FrameCount (window_context.py), which the
UNet's wrapper and the ControlNet's chunk loop keep current, as for the motion modules. Outside a
forward the norm is per frame. No global state: each clone gets its own views and counter.
"""

import torch

from ..temporal.group_norm import cross_frame_group_norm


class _CrossFrame:
    """Mixin for a GroupNorm class: forward with statistics across the frames of each chunk."""

    frame_count = None
    is_cross_frame_view = True  # a marker, not isinstance: ComfyUI imports the pack under its own module name

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
    base = type(norm).__bases__[1] if getattr(type(norm), "is_cross_frame_view", False) else type(norm)
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
