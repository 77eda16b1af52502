"""Memory per GPU from the model sizes (`tcan-train memory`): weights, gradients and AdamW state.

Counted from SD1.5-sized networks built on the meta device (no memory used): frozen weights at
their storage precision, trainable ones as float32 master weights plus a float32 gradient and two
float32 Adam moments (16 bytes a parameter). Activations depend on the attention kernel and on
gradient checkpointing and are not counted here; see the README for measured runs.
"""

import torch

GIB = 2 ** 30


def parameter_counts():
    """{(stage, name): (trainable, frozen)} parameter counts of both stages at SD1.5 size."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    from .models import CONTROLNET_CONFIG, UNET_CONFIG
    from .stage1 import Stage1
    from .stage2 import Stage2
    from ..temporal import MotionModule

    with torch.device("meta"):
        def nets():
            return (UNet2DConditionModel(**UNET_CONFIG), UNet2DConditionModel(**UNET_CONFIG),
                    ControlNetModel(**CONTROLNET_CONFIG))

        text = torch.empty(1, 77, 768)
        widths = [320, 640, 1280, 1280]
        names = [(f"down_blocks.{i}.motion_modules.{j}", widths[i]) for i in range(4) for j in range(2)]
        names += [(f"up_blocks.{i}.motion_modules.{j}", widths[3 - i]) for i in range(4) for j in range(3)]
        motion = {f"{n}.{k}": v for n, w in names for k, v in MotionModule(w, 32).state_dict().items()}
        stages = {"stage1": Stage1(*nets(), text), "stage2": Stage2(*nets(), text, motion)}
    counts = {}
    for stage_name, stage in stages.items():
        for part in ("unet", "appearance", "controlnet"):
            params = list(getattr(stage, part).parameters())
            counts[stage_name, part] = (sum(p.numel() for p in params if p.requires_grad),
                                        sum(p.numel() for p in params if not p.requires_grad))
    return counts


def estimate(counts, stage, frozen_bytes=4):
    """-> (trainable parameters, frozen parameters, bytes of weights + gradients + Adam state)."""
    trainable = sum(counts[stage, part][0] for part in ("unet", "appearance", "controlnet"))
    frozen = sum(counts[stage, part][1] for part in ("unet", "appearance", "controlnet"))
    return trainable, frozen, trainable * 16 + frozen * frozen_bytes


def print_table(size=(512, 512)):
    counts = parameter_counts()
    print(f"memory per GPU from model sizes (weights, gradients, AdamW; activations at {size[0]}x{size[1]} "
          "not included)")
    print("| stage | trainable | frozen | frozen fp32 | --frozen-dtype bf16 |")
    print("|---|---|---|---|---|")
    for stage in ("stage1", "stage2"):
        trainable, frozen, fp32 = estimate(counts, stage, 4)
        _, _, bf16 = estimate(counts, stage, 2)
        print(f"| {stage} | {trainable / 1e6:.1f} M | {frozen / 1e6:.1f} M | {fp32 / GIB:.1f} GiB "
              f"| {bf16 / GIB:.1f} GiB |")
