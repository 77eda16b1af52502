"""AnimateDiff motion modules inside ComfyUI's SD1.5 UNet, the way ComfyUI intends.

- the motion weights live in their own ModelPatcher, registered as an additional model of the UNet
  clone, so ComfyUI loads/offloads them with the UNet;
- a PatcherInjection inserts each module into its UNet block when the clone is loaded and removes
  it when the clone is unloaded (the user's MODEL and its nn.Module are left as they were);
- a forward_timestep_embed_patch runs the inserted modules with the frame count and PTM taken from
  transformer_options.

Placement (AnimateDiff / TCAN): down_blocks.i.motion_modules.j -> input_blocks[3i+1+j],
up_blocks.i.motion_modules.j -> output_blocks[3i+j], mid_block -> middle_block; inside a block,
after its last SpatialTransformer, else after its first ResBlock (so before any Upsample).
"""

import torch

from .transformer_options import chunk_count, tcan_state

INJECTION_KEY = "tcan_motion_modules"


class InjectedMotionModule(torch.nn.Module):
    """A motion module as it sits inside a UNet block."""

    def __init__(self, name, module):
        super().__init__()
        self.name = name
        self.module = module

    def forward(self, x):
        raise RuntimeError(
            f"motion module {self.name} was called without the pack's forward_timestep_embed patch; the "
            "UNet must run through ComfyUI's sampling (model_options['transformer_options']['patches'])")


class MotionModuleSet(torch.nn.Module):
    """All motion modules of one checkpoint as one nn.Module, for their own ModelPatcher."""

    def __init__(self, modules):
        super().__init__()
        self.by_name = torch.nn.ModuleDict({name.replace(".", "__"): m for name, m in modules.items()})


def run_injected_module(layer, x, emb, context, transformer_options, *args, **kwargs):
    """forward_timestep_embed_patch handler: frames per chunk from the batch, PTM from transformer_options."""
    from comfy.ldm.modules.attention import optimized_attention

    state = tcan_state(transformer_options)
    if state.get("reference_pass"):  # the appearance pass is 2-D: no temporal layers
        return x
    frames = x.shape[0] // chunk_count(transformer_options)
    temperature = state.get("temperature")
    return layer.module(x, frames, temperature=temperature, attention=optimized_attention)


def placement(name):
    """Motion module name -> (UNet block list, block index)."""
    part = name.split(".")
    if part[0] == "down_blocks":
        return "input_blocks", 3 * int(part[1]) + 1 + int(part[3])
    if part[0] == "up_blocks":
        return "output_blocks", 3 * int(part[1]) + int(part[3])
    return "middle_block", None


def insert_position(block):
    """Index after the block's last SpatialTransformer, else after its first ResBlock."""
    from comfy.ldm.modules.attention import SpatialTransformer
    from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

    layers = list(block)
    transformers = [i for i, layer in enumerate(layers) if isinstance(layer, SpatialTransformer)]
    if transformers:
        return transformers[-1] + 1
    resblocks = [i for i, layer in enumerate(layers) if isinstance(layer, ResBlock)]
    if not resblocks:
        raise ValueError("a UNet block has neither a SpatialTransformer nor a ResBlock to follow")
    return resblocks[0] + 1


def _block(diffusion_model, name):
    list_name, index = placement(name)
    blocks = getattr(diffusion_model, list_name, None)
    if blocks is None or (index is not None and index >= len(blocks)):
        raise ValueError(
            f"motion module {name} has no place in this model (no {list_name}[{index}]); "
            "AnimateDiff SD1.5 motion modules need an SD1.5 model")
    return blocks if index is None else blocks[index]


def _block_channels(block):
    from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

    res = [layer for layer in block if isinstance(layer, ResBlock)]
    return res[0].out_channels if res else None


def check_fits(diffusion_model, modules):
    """Raise ValueError when a module's width does not match its UNet block (e.g. an SDXL model)."""
    for name, module in modules.items():
        channels = _block_channels(_block(diffusion_model, name))
        if channels is not None and channels != module.channels:
            raise ValueError(
                f"motion module {name} is {module.channels} channels wide but its UNet block has {channels}: "
                "AnimateDiff SD1.5 motion modules need an SD1.5 model")


def make_injection(wrappers, model_of=lambda patcher: patcher.model.diffusion_model):
    """A PatcherInjection that inserts wrapped modules ({motion module name: wrapper}) into the blocks
    of the patcher's network (`model_of`: the UNet by default, or a ControlNet) and removes them again."""
    from comfy.patcher_extension import PatcherInjection

    wrapper_type = type(next(iter(wrappers.values())))

    def inject(patcher):
        network = model_of(patcher)
        for name, wrapper in wrappers.items():
            block = _block(network, name)
            if not any(layer is wrapper for layer in block):
                block.insert(insert_position(block), wrapper)

    def eject(patcher):
        network = model_of(patcher)
        for name in wrappers:
            block = _block(network, name)
            for i in reversed(range(len(block))):
                if isinstance(block[i], wrapper_type):
                    del block[i]

    return PatcherInjection(inject=inject, eject=eject)


def weight_shapes_without_injections(module, prefix=""):
    """{state-dict key: shape} of a module as if no motion module were injected (another clone of the
    same MODEL may be loaded and injected right now; its modules shift the block indices)."""
    shapes = {prefix + name: tuple(t.shape) for name, t in
              list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))}
    kept = [(name, child) for name, child in module.named_children()
            if type(child).__name__ not in ("InjectedMotionModule", "ControlNetMotionModule")]
    renumber = isinstance(module, torch.nn.Sequential)
    for index, (name, child) in enumerate(kept):
        shapes.update(weight_shapes_without_injections(child, f"{prefix}{index if renumber else name}."))
    return shapes
