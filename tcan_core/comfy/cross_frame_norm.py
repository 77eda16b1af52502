"""Cross-frame GroupNorm in the UNet's res blocks (AnimateDiff v1 / TCAN) via object patches.

Each affected GroupNorm (ResBlock in_layers.0 / out_layers.0, and out.0) is replaced on the clone
by a wrapper; a DIFFUSION_MODEL wrapper tells the wrappers how many cond/uncond chunks the current
batch holds. Outside a patched forward (no chunk count) the original GroupNorm runs unchanged.
No global state: each clone gets its own wrappers and context.
"""

import torch

from ..temporal.group_norm import cross_frame_group_norm
from .transformer_options import chunk_count

WRAPPER_KEY = "tcan_cross_frame_norm"


class ChunkContext:
    """How many cond/uncond chunks the batch now in the UNet holds (None outside a forward)."""

    def __init__(self):
        self.chunks = None


class CrossFrameGroupNorm(torch.nn.Module):
    def __init__(self, norm, context):
        super().__init__()
        self.norm = norm
        self.context = context

    def forward(self, x):
        chunks = self.context.chunks
        if not chunks or x.shape[0] % chunks or x.shape[0] == chunks:
            return self.norm(x)
        weight = None if self.norm.weight is None else self.norm.weight.to(device=x.device, dtype=x.dtype)
        bias = None if self.norm.bias is None else self.norm.bias.to(device=x.device, dtype=x.dtype)
        return cross_frame_group_norm(x, x.shape[0] // chunks, self.norm.num_groups, weight, bias, self.norm.eps)


def group_norm_paths(diffusion_model):
    """Attribute paths (from the UNet) of the GroupNorms TCAN runs across frames."""
    from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

    paths = []
    for name, module in diffusion_model.named_modules():
        if isinstance(module, ResBlock):
            paths += [f"{name}.in_layers.0", f"{name}.out_layers.0"]
    if isinstance(getattr(diffusion_model, "out", None), torch.nn.Sequential):
        paths.append("out.0")
    return [p for p in paths if isinstance(diffusion_model.get_submodule(p), torch.nn.GroupNorm)]


def apply_cross_frame_group_norm(patcher):
    """Register the object patches and the chunk-count wrapper on a (cloned) UNet patcher."""
    from comfy.patcher_extension import WrappersMP

    context = ChunkContext()
    diffusion_model = patcher.model.diffusion_model
    for path in group_norm_paths(diffusion_model):
        patcher.add_object_patch(f"diffusion_model.{path}",
                                 CrossFrameGroupNorm(diffusion_model.get_submodule(path), context))

    def set_chunks(executor, x, timesteps, context_arg=None, y=None, control=None, transformer_options={}, **kwargs):
        previous, context.chunks = context.chunks, chunk_count(transformer_options)
        try:
            return executor(x, timesteps, context_arg, y, control, transformer_options, **kwargs)
        finally:
            context.chunks = previous

    patcher.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, WRAPPER_KEY, set_chunks)
    return patcher
