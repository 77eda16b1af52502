"""Which kind of file a state dict is, by its tell-tale keys (tcan.md 11), and where it belongs.

Users drop files into the wrong folder or node; naming the kind found and its home turns a key
mismatch into an instruction. The three TCAN roles (UNet, appearance encoder, ControlNet) each
accept the official file and the plain diffusers network it is built on.
"""

from dataclasses import dataclass

PACK_FORMAT = "tcan-pack"
TCAN_FOLDER = "ComfyUI/models/tcan"


@dataclass(frozen=True)
class Kind:
    description: str
    folder: str  # where a file of this kind belongs


KINDS = {
    "tcan_unet": Kind("a TCAN UNet file ([UNet]_….ckpt: diffusers UNet keys with peft LoRA such as "
                      "'….attn1.to_q.base_layer.weight' and '….attn1.to_q.lora_A.default.weight'; stage 2 also "
                      "'down_blocks.0.motion_modules.0.…')", TCAN_FOLDER),
    "tcan_appearance": Kind("a TCAN AppearanceEncoder file ([AppearanceEncoder]_….ckpt: diffusers UNet keys, "
                            "'up_blocks.3.attentions.2.norm.weight' present, '….proj_out.weight' absent)",
                            TCAN_FOLDER),
    "tcan_controlnet": Kind("a TCAN ControlNetT file ([ControlNetT]_….ckpt: diffusers ControlNet keys such as "
                            "'controlnet_cond_embedding.conv_in.weight' plus 'down_blocks.2.motion_modules.0.…')",
                            TCAN_FOLDER),
    "diffusers_controlnet": Kind("a diffusers SD1.5 ControlNet without temporal layers (e.g. "
                                 "control_v11p_sd15_openpose_RenamedForMA.pth)", TCAN_FOLDER),
    "diffusers_unet": Kind("a plain diffusers SD1.5 UNet (no LoRA, all keys present)", TCAN_FOLDER),
    "tcan_pack": Kind("a TCAN file set converted by this pack (safetensors, metadata format 'tcan-pack')",
                      TCAN_FOLDER),
    "motion_module": Kind("an AnimateDiff motion module (only '…motion_modules…' keys)",
                          "ComfyUI/models/animatediff_models"),
    "sd15_checkpoint": Kind("a Stable Diffusion checkpoint in LDM layout ('model.diffusion_model.…' keys; "
                            "load it with Load Checkpoint)", "ComfyUI/models/checkpoints"),
    "ldm_unet": Kind("a UNet in LDM layout ('input_blocks.…' keys; load it with Load Diffusion Model)",
                     "ComfyUI/models/diffusion_models"),
    "ldm_controlnet": Kind("a ControlNet in LDM layout ('zero_convs.…' keys, e.g. control_v11p_sd15_openpose.pth; "
                           "load it with Load ControlNet Model)", "ComfyUI/models/controlnet"),
    "unknown": Kind("a file of no known layout", ""),
}


@dataclass(frozen=True)
class Role:
    kinds: tuple  # the kinds that can fill the role, the official one first

    @property
    def description(self):
        return KINDS[self.kinds[0]].description


ROLES = {
    "unet": Role(("tcan_unet", "diffusers_unet")),
    "appearance": Role(("tcan_appearance", "diffusers_unet")),
    "controlnet": Role(("tcan_controlnet", "diffusers_controlnet")),
}


def detect_kind(keys, metadata=None):
    """The kind (a key of KINDS) of a state dict, from its keys and optional safetensors metadata.

    Expects keys already unwrapped from "state_dict" and stripped of DDP's "module." prefix.
    """
    if (metadata or {}).get("format") == PACK_FORMAT:
        return "tcan_pack"
    keys = set(keys)
    motion = any("motion_modules." in key for key in keys)
    if "controlnet_cond_embedding.conv_in.weight" in keys:
        return "tcan_controlnet" if motion else "diffusers_controlnet"
    if any(".base_layer." in key or ".lora_A." in key for key in keys):
        return "tcan_unet"
    if keys and motion and all("motion_modules." in key for key in keys):
        return "motion_module"
    if "up_blocks.3.attentions.2.norm.weight" in keys:
        return "diffusers_unet" if "up_blocks.3.attentions.2.proj_out.weight" in keys else "tcan_appearance"
    if any(key.startswith("model.diffusion_model.") for key in keys):
        return "sd15_checkpoint"
    if keys & {"zero_convs.0.0.weight", "control_model.zero_convs.0.0.weight"}:
        return "ldm_controlnet"
    if keys & {"input_blocks.0.0.weight", "diffusion_model.input_blocks.0.0.weight"}:
        return "ldm_unet"
    return "unknown"


def role_of(kind):
    """The role a file of this kind fills when none is named; None when ambiguous or not TCAN's."""
    return {"tcan_unet": "unet", "tcan_appearance": "appearance", "tcan_controlnet": "controlnet",
            "diffusers_controlnet": "controlnet"}.get(kind)
