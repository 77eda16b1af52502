"""AnimateDiff motion modules inside ComfyUI's SD1.5 UNet and ControlNet, the way ComfyUI intends.

- the motion weights live in their own ModelPatcher, registered as an additional model of the
  network's clone, so ComfyUI loads/offloads them with it;
- a PatcherInjection inserts each module into its block when the clone is loaded and removes it
  when the clone is unloaded (the user's MODEL and its nn.Module are left as they were);
- each inserted module reads the frames per chunk from its network's FrameCount; in the UNet a
  forward_timestep_embed_patch runs it with the window's pose-driven temperature map.

Placement (AnimateDiff / TCAN): down_blocks.i.motion_modules.j -> input_blocks[3i+1+j],
up_blocks.i.motion_modules.j -> output_blocks[3i+j], mid_block -> middle_block; inside a block,
after its last SpatialTransformer, else after its first ResBlock (so before any Upsample).
"""

import copy

import torch

from .cross_frame_norm import add_cross_frame_views
from .window_context import is_reference_pass, track_frames, window_of

INJECTION_KEY = "tcan_motion_modules"
FRAMES_KEY = "tcan_frames"
BETA_SCHEDULES = ("sqrt_linear", "model default")


class InjectedMotionModule(torch.nn.Module):
    """A motion module as it sits inside a UNet or ControlNet block."""

    def __init__(self, name, module, frame_count):
        super().__init__()
        self.name = name
        self.module = module
        self.frame_count = frame_count

    def forward(self, x, temperature=None):
        return self.module(x, self.frame_count.frames or x.shape[0], temperature=temperature,
                           attention=_optimized_attention())


def _optimized_attention():
    from comfy.ldm.modules.attention import optimized_attention

    return optimized_attention


def _is_injected(module):
    # by name: ComfyUI imports the pack under its own module name, so tests and benchmarks that import
    # tcan_core directly see another class object
    return type(module).__name__ == InjectedMotionModule.__name__


class MotionModuleSet(torch.nn.Module):
    """All motion modules of one checkpoint as one nn.Module, for their own ModelPatcher."""

    def __init__(self, modules):
        super().__init__()
        self.by_name = torch.nn.ModuleDict({name.replace(".", "__"): m for name, m in modules.items()})


def run_in_unet(layer, x, emb, context, transformer_options, *args, **kwargs):
    """forward_timestep_embed_patch handler: the window's temperature map; nothing in the appearance pass
    (it is 2-D)."""
    if is_reference_pass(transformer_options):
        return x
    window = window_of(transformer_options)
    return layer(x, temperature=window.temperature if window is not None else None)


def placement(name):
    """Motion module name -> (block list, block index)."""
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


def _block(network, name):
    list_name, index = placement(name)
    blocks = getattr(network, list_name, None)
    if blocks is None or (index is not None and index >= len(blocks)):
        raise ValueError(
            f"motion module {name} has no place in this model (no {list_name}[{index}]); "
            "AnimateDiff SD1.5 motion modules need an SD1.5 model")
    return blocks if index is None else blocks[index]


def _block_channels(block):
    from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

    res = [layer for layer in block if isinstance(layer, ResBlock)]
    return res[0].out_channels if res else None


def check_fits(network, modules):
    """Raise ValueError when a module's width does not match its block (e.g. an SDXL model)."""
    for name, module in modules.items():
        channels = _block_channels(_block(network, name))
        if channels is not None and channels != module.channels:
            raise ValueError(
                f"motion module {name} is {module.channels} channels wide but its UNet block has {channels}: "
                "AnimateDiff SD1.5 motion modules need an SD1.5 model")


def insert_motion_modules(patcher, modules, frame_count, model_of=lambda patcher: patcher.model.diffusion_model):
    """Register {name: MotionModule} on a (cloned) patcher: their own ModelPatcher as an additional model,
    and a PatcherInjection that inserts them into the blocks of the patcher's network (`model_of`: the
    UNet by default, or a ControlNet) while it is loaded. -> the modules, cast to the network's dtype."""
    import comfy.model_patcher
    from comfy.patcher_extension import PatcherInjection

    wrappers = {name: InjectedMotionModule(name, module, frame_count) for name, module in modules.items()}
    weights = comfy.model_patcher.ModelPatcher(MotionModuleSet(modules), load_device=patcher.load_device,
                                               offload_device=patcher.offload_device)
    patcher.set_additional_models(INJECTION_KEY, [weights])

    def inject(p):
        network = model_of(p)
        for name, wrapper in wrappers.items():
            block = _block(network, name)
            if not any(layer is wrapper for layer in block):
                block.insert(insert_position(block), wrapper)

    def eject(p):
        network = model_of(p)
        for name in wrappers:
            block = _block(network, name)
            for i in reversed(range(len(block))):
                if _is_injected(block[i]):
                    del block[i]

    patcher.set_injections(INJECTION_KEY, [PatcherInjection(inject=inject, eject=eject)])
    return weights


def weight_shapes_without_injections(module, prefix=""):
    """{state-dict key: shape} of a module as if no motion module were injected (another clone of the
    same MODEL may be loaded and injected right now; its modules shift the block indices)."""
    shapes = {prefix + name: tuple(t.shape) for name, t in
              list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))}
    kept = [(name, child) for name, child in module.named_children() if not _is_injected(child)]
    renumber = isinstance(module, torch.nn.Sequential)
    for index, (name, child) in enumerate(kept):
        shapes.update(weight_shapes_without_injections(child, f"{prefix}{index if renumber else name}."))
    return shapes


def linear_beta_sampling(model):
    """A copy of the model's sampling object with AnimateDiff's / TCAN's beta schedule (linear in beta,
    0.00085 -> 0.012; ComfyUI calls it sqrt_linear). SD1.5 checkpoints default to scaled-linear."""
    sampling = copy.deepcopy(model.get_model_object("model_sampling"))
    sampling._register_schedule(beta_schedule="sqrt_linear", linear_start=0.00085, linear_end=0.012)
    return sampling


def apply_motion_modules(model, modules, *, cross_frame_norm=False, beta_schedule="sqrt_linear", use_mid_block=False):
    """MODEL + {name: MotionModule} -> a patched clone; the input MODEL is not modified.

    cross_frame_norm: GroupNorm statistics of the res blocks shared across the frames of each chunk
    (AnimateDiff v1 / TCAN training); use_mid_block: also insert a mid-block module if present (TCAN
    has none); beta_schedule: "sqrt_linear" (AnimateDiff/TCAN) or "model default".
    """
    if beta_schedule not in BETA_SCHEDULES:
        raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {beta_schedule!r}")
    modules = {n: m for n, m in modules.items() if use_mid_block or not n.startswith("mid_block")}
    if not modules:
        raise ValueError("no motion modules to insert (the file holds only a mid-block module); pick a whole AnimateDiff "
                         "SD1.5 motion module such as mm_sd_v15_v2.ckpt")
    patched = model.clone()
    check_fits(patched.model.diffusion_model, modules)
    dtype = patched.model.manual_cast_dtype or patched.model.get_dtype()
    frame_count = track_frames(patched, FRAMES_KEY)
    insert_motion_modules(patched, {n: m.to(dtype=dtype) for n, m in modules.items()}, frame_count)
    patched.set_model_forward_timestep_embed_patch((InjectedMotionModule, run_in_unet))
    if cross_frame_norm:
        add_cross_frame_views(patched, patched.model.diffusion_model, "diffusion_model.", frame_count)
    if beta_schedule == "sqrt_linear":
        patched.add_object_patch("model_sampling", linear_beta_sampling(patched))
    return patched
