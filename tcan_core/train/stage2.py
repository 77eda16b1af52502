"""Stage 2 (video level, tcan.md 16.3-16.6): 16-frame clips, reference = the video's first frame.

Trainable: the UNet's 20 motion modules and the ControlNet's 4 (down blocks 2 and 3), both
initialised from an AnimateDiff SD1.5 file (position-encoding length read from it, no mid-block
module); everything else (base UNet, APPA LoRA, appearance UNet, ControlNet) frozen. Res-block
GroupNorm spans each clip's frames (tcan.md 10). No reference drop, no PTM (as TCAN trains).
"""

from .. import temporal as pack_temporal
from . import noise
from .lora import attach_lora, load_lora
from .stage import Stage
from .temporal import CONTROLNET_BLOCKS, add_motion_modules, use_cross_frame_group_norm

UNET_MODULES = 20
CONTROLNET_MODULES = 4


def motion_modules(state, source):
    """AnimateDiff state dict -> trainable float32 MotionModules by name (mid block dropped, tcan.md B21)."""
    device = next(iter(state.values())).device  # the file's (CPU; meta when checking layouts)
    modules = pack_temporal.load_motion_modules(state, dtype=None, device=device, source=source)
    return {name: m.float().requires_grad_(True) for name, m in modules.items() if not name.startswith("mid_block")}


class Stage2(Stage):
    name = "stage2"

    def __init__(self, unet, appearance, controlnet, text_embedding, motion_state, *, lora=None,
                 controlnet_motion_state=None, unet_motion_state=None, lora_rank=16, lora_alpha=None,
                 source="motion module"):
        super().__init__(unet, appearance, controlnet, text_embedding)
        attach_lora(unet, lora_rank, lora_alpha)
        if lora:
            load_lora(unet, lora)
        # the UNet's modules from the AnimateDiff file, or from a stage-2 [UNet] file being continued
        unet_modules = motion_modules(unet_motion_state or motion_state, source)
        control_modules = motion_modules(controlnet_motion_state or motion_state, source)
        placed = add_motion_modules(unet, unet_modules, self.frames)
        if len(placed) != UNET_MODULES:
            raise ValueError(f"{source}: {len(placed)} UNet motion modules placed, {UNET_MODULES} expected "
                             "(an AnimateDiff SD1.5 file, mm_sd_v15.ckpt or mm_sd_v15_v2.ckpt)")
        placed = add_motion_modules(controlnet, control_modules, self.frames, blocks=CONTROLNET_BLOCKS)
        if len(placed) != CONTROLNET_MODULES:
            raise ValueError(f"{source}: {len(placed)} ControlNet motion modules placed, {CONTROLNET_MODULES} "
                             "expected (down blocks 2 and 3)")
        use_cross_frame_group_norm(unet, self.frames)
        use_cross_frame_group_norm(controlnet, self.frames)
        for model in (unet, controlnet):
            for name, p in model.named_parameters():
                p.requires_grad_(".motion_modules." in name)

    def draws(self, seed, step, batch):
        return noise.draws(seed, step, batch["index"], batch["clip_mean"].shape[1:])

    def forward(self, batch, draws):
        device = batch["clip_mean"].device
        d = {k: v.to(device) for k, v in draws.items()}
        b, f = batch["clip_mean"].shape[:2]
        x0 = (batch["clip_mean"] + batch["clip_std"] * d["latent_noise"]).flatten(0, 1)  # [B*F, 4, h, w]
        eps = d["noise"].flatten(0, 1)
        t = d["t"].repeat_interleave(f)
        x_t = self.noisy(x0, eps, t)
        prediction = self.run(x_t, t, self.context(b * f), batch["pose"].flatten(0, 1), batch["reference"],
                              keep=None, frames=f)
        return self.loss(prediction, eps)
