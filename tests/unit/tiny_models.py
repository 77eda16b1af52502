"""Tiny randomly initialised SD1.5-topology networks for the trainer's tests (no downloads).

Same block layout, names and heads as SD1.5, widths 32/64: the motion modules fit (multiples of 32),
the pack's name maps apply, and a step takes milliseconds.
"""

import os

import torch

WIDTHS = [32, 64, 64, 64]
TEXT_WIDTH = 32
SIZE = 64  # pixels; latents 8x8


def unet(seed=0):
    from diffusers import UNet2DConditionModel

    from tcan_core.train.models import UNET_CONFIG

    torch.manual_seed(seed)
    return UNet2DConditionModel(**(UNET_CONFIG | {"block_out_channels": WIDTHS, "cross_attention_dim": TEXT_WIDTH,
                                                  "sample_size": SIZE // 8}))


def controlnet(seed=1):
    from diffusers import ControlNetModel

    from tcan_core.train.models import CONTROLNET_CONFIG

    torch.manual_seed(seed)
    model = ControlNetModel(**(CONTROLNET_CONFIG | {"block_out_channels": WIDTHS, "cross_attention_dim": TEXT_WIDTH,
                                                    "conditioning_embedding_out_channels": [8, 16, 32, 32]}))
    with torch.no_grad():  # a trained ControlNet's zero convs are not zero: make its residuals matter
        for name, p in model.named_parameters():
            if name.startswith(("controlnet_down_blocks", "controlnet_mid_block",
                                "controlnet_cond_embedding.conv_out")):
                p.normal_(0, 0.05)
    return model


def vae(seed=2):
    from diffusers import AutoencoderKL

    from tcan_core.train.models import VAE_CONFIG

    torch.manual_seed(seed)
    return AutoencoderKL(**(VAE_CONFIG | {"block_out_channels": [32, 32, 32, 32], "sample_size": SIZE}))


def text_encoder(seed=3):
    from transformers import CLIPTextConfig, CLIPTextModel

    from tcan_core.train.models import CLIP_CONFIG

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(**(CLIP_CONFIG | {"hidden_size": TEXT_WIDTH, "intermediate_size": 64,
                                                         "num_hidden_layers": 2, "num_attention_heads": 2,
                                                         "projection_dim": TEXT_WIDTH})))


def motion_state(seed=4, max_len=24, mid=True):
    """An AnimateDiff-layout state dict for these widths (v2-like with a mid-block module), random
    (proj_out too, so the modules change the output from the start as a real file's do)."""
    from tcan_core.temporal import MotionModule

    torch.manual_seed(seed)
    names = [(f"down_blocks.{i}.motion_modules.{j}", WIDTHS[i]) for i in range(4) for j in range(2)]
    names += [(f"up_blocks.{i}.motion_modules.{j}", WIDTHS[3 - i]) for i in range(4) for j in range(3)]
    if mid:
        names.append(("mid_block.motion_modules.0", WIDTHS[3]))
    state = {}
    for name, width in names:
        module = MotionModule(width, max_len)
        with torch.no_grad():
            module.temporal_transformer.proj_out.weight.normal_(0, 0.05)
        state.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    return state


def write_base(folder):
    """A diffusers pipeline-like folder (unet/, vae/, text_encoder/), a ControlNet folder and an
    AnimateDiff file, as a user would have them -> dict of paths."""
    paths = {"base": os.path.join(folder, "base"), "controlnet": os.path.join(folder, "controlnet"),
             "motion": os.path.join(folder, "mm_tiny.ckpt")}
    if not os.path.isdir(paths["base"]):
        unet().save_pretrained(os.path.join(paths["base"], "unet"))
        vae().save_pretrained(os.path.join(paths["base"], "vae"))
        text_encoder().save_pretrained(os.path.join(paths["base"], "text_encoder"))
        controlnet().save_pretrained(paths["controlnet"])
        torch.save(motion_state(), paths["motion"])
    return paths
