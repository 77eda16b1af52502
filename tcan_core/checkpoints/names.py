"""diffusers -> LDM (ComfyUI) parameter names for the SD1.5 UNet and the SD1.5 ControlNet.

TCAN saves every network with diffusers names; ComfyUI's `UNetModel` and cldm `ControlNet` use the
original LDM names. The maps below are generated from the SD1.5 block layout (tcan.md 11.6): four
resolution levels of two resnets each (three on the way up), cross-attention at levels 0-2 going
down and 1-3 going up, a Res/Attention/Res middle block. Channel widths do not change any name, so
the same map serves SD1.5 and the small test models of the same topology.

LDM names here are relative to the network (`input_blocks.1.1.proj_in.weight`); the UNet ones get
`UNET_PREFIX` when they become ComfyUI model keys. ControlNet names are what ComfyUI keeps after it
strips `control_model.` from an LDM ControlNet file.
"""

from typing import NamedTuple

UNET_PREFIX = "diffusion_model."

LEVELS = 4
LAYERS_PER_BLOCK = 2
DOWN_ATTENTION_LEVELS = (0, 1, 2)
UP_ATTENTION_LEVELS = (1, 2, 3)

_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
# A spatial transformer keeps its inner names in both layouts.
_ATTENTION = tuple(
    [f"{m}.{p}" for m in ("norm", "proj_in", "proj_out") for p in ("weight", "bias")]
    + [f"transformer_blocks.0.norm{i}.{p}" for i in (1, 2, 3) for p in ("weight", "bias")]
    + [f"transformer_blocks.0.{a}.to_{x}.weight" for a in ("attn1", "attn2") for x in ("q", "k", "v")]
    + [f"transformer_blocks.0.{a}.to_out.0.{p}" for a in ("attn1", "attn2") for p in ("weight", "bias")]
    + [f"transformer_blocks.0.ff.net.{m}.{p}" for m in ("0.proj", "2") for p in ("weight", "bias")])


def _module(diffusers, ldm):
    return {f"{diffusers}.{p}": f"{ldm}.{p}" for p in ("weight", "bias")}


def _resnet(diffusers, ldm):
    out = {}
    for ours, theirs in _RESNET.items():
        out.update(_module(f"{diffusers}.{ours}", f"{ldm}.{theirs}"))
    return out


def _attention(diffusers, ldm):
    return {f"{diffusers}.{p}": f"{ldm}.{p}" for p in _ATTENTION}


def _encoder_map():
    """The part the UNet and the ControlNet share: conv_in, time embedding, down blocks, middle."""
    names = {**_module("conv_in", "input_blocks.0.0"),
             **_module("time_embedding.linear_1", "time_embed.0"),
             **_module("time_embedding.linear_2", "time_embed.2")}
    for i in range(LEVELS):
        for j in range(LAYERS_PER_BLOCK):
            n = (LAYERS_PER_BLOCK + 1) * i + 1 + j
            names.update(_resnet(f"down_blocks.{i}.resnets.{j}", f"input_blocks.{n}.0"))
            if i in DOWN_ATTENTION_LEVELS:
                names.update(_attention(f"down_blocks.{i}.attentions.{j}", f"input_blocks.{n}.1"))
        if i < LEVELS - 1:
            n = (LAYERS_PER_BLOCK + 1) * (i + 1)
            names.update(_module(f"down_blocks.{i}.downsamplers.0.conv", f"input_blocks.{n}.0.op"))
    names.update(_resnet("mid_block.resnets.0", "middle_block.0"))
    names.update(_attention("mid_block.attentions.0", "middle_block.1"))
    names.update(_resnet("mid_block.resnets.1", "middle_block.2"))
    return names


def unet_name_map():
    """{diffusers name: LDM name} for every parameter an SD1.5 UNet can have.

    Includes a `conv_shortcut` for every resnet; only those whose input and output widths differ
    exist in a real model (see `required_names`).
    """
    names = _encoder_map()
    for i in range(LEVELS):
        for j in range(LAYERS_PER_BLOCK + 1):
            n = (LAYERS_PER_BLOCK + 1) * i + j
            names.update(_resnet(f"up_blocks.{i}.resnets.{j}", f"output_blocks.{n}.0"))
            if i in UP_ATTENTION_LEVELS:
                names.update(_attention(f"up_blocks.{i}.attentions.{j}", f"output_blocks.{n}.1"))
        if i < LEVELS - 1:
            # The upsampler is the last layer of the level's last output block: after the resnet
            # (index 1) or after resnet + attention (index 2).
            n = (LAYERS_PER_BLOCK + 1) * i + LAYERS_PER_BLOCK
            slot = 2 if i in UP_ATTENTION_LEVELS else 1
            names.update(_module(f"up_blocks.{i}.upsamplers.0.conv", f"output_blocks.{n}.{slot}.conv"))
    names.update(_module("conv_norm_out", "out.0"))
    names.update(_module("conv_out", "out.2"))
    return names


def controlnet_name_map():
    """{diffusers name: cldm name} for every parameter an SD1.5 ControlNet can have."""
    names = _encoder_map()
    names.update(_module("controlnet_cond_embedding.conv_in", "input_hint_block.0"))
    for k in range(6):
        names.update(_module(f"controlnet_cond_embedding.blocks.{k}", f"input_hint_block.{2 * k + 2}"))
    names.update(_module("controlnet_cond_embedding.conv_out", "input_hint_block.14"))
    zero_convs = 1 + LEVELS * LAYERS_PER_BLOCK + (LEVELS - 1)
    for k in range(zero_convs):
        names.update(_module(f"controlnet_down_blocks.{k}", f"zero_convs.{k}.0"))
    names.update(_module("controlnet_mid_block", "middle_block_out.0"))
    return names


def required_names(name_map, state_dict):
    """The names of `name_map` a complete state dict must hold.

    A resnet has a 1x1 `conv_shortcut` exactly when its input and output widths differ, which its
    `conv1.weight` [out, in, 3, 3] tells; without `conv1` (itself then missing) it is not required.
    """
    required = set()
    for name in name_map:
        if ".conv_shortcut." in name:
            conv1 = state_dict.get(name.split(".conv_shortcut.")[0] + ".conv1.weight")
            if conv1 is None or conv1.shape[0] == conv1.shape[1]:
                continue
        required.add(name)
    return required


class Renamed(NamedTuple):
    state: dict  # {LDM name: tensor}
    unexpected: list  # diffusers names the map does not know
    missing: list  # required diffusers names absent from the input


def rename(state_dict, name_map, *, prefix=""):
    """Rename a diffusers state dict with `name_map` (tensors are shared, not copied)."""
    state, unexpected = {}, []
    for name, value in state_dict.items():
        if name in name_map:
            state[prefix + name_map[name]] = value
        else:
            unexpected.append(name)
    required = required_names(name_map, state_dict)
    missing = [name for name in name_map if name in required and name not in state_dict]
    return Renamed(state, unexpected, missing)
