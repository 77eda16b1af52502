"""TCANWeights: the TCAN file set converted to what ComfyUI loads.

Key spaces, chosen so each part can be handed to ComfyUI as it is:
- UNet-shaped parts (`unet_base`, `lora`, `appearance_unet`, `appearance_missing`) use full ComfyUI
  model keys, `diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight`: what
  `ModelPatcher.add_patches` takes ("set" patches for base weights, "diff" for LoRA deltas). Strip
  `UNET_PREFIX` for `UNetModel.load_state_dict`.
- `controlnet` uses cldm names without `control_model.` (`zero_convs.0.0.weight`), as ComfyUI's
  ControlNet loader keeps them.
- Motion modules keep their original AnimateDiff keys, for `tcan_core.temporal.load_motion_modules`;
  the UNet's and the ControlNet's are separate (both have `down_blocks.2.motion_modules.0`).
"""

from dataclasses import dataclass, field

from .lora import lora_deltas

# Which fields each of the three TCAN files fills.
ROLE_FIELDS = {
    "unet": ("unet_base", "lora", "motion_module_state"),
    "appearance": ("appearance_unet", "appearance_missing"),
    "controlnet": ("controlnet", "controlnet_motion_state"),
}


@dataclass(eq=False)
class TCANWeights:
    unet_base: dict = field(default_factory=dict)  # {model key: tensor}, every SD1.5 UNet weight
    lora: dict = field(default_factory=dict)  # {model key of the weight it updates: LoRA}
    motion_module_state: dict = field(default_factory=dict)  # UNet motion modules, AnimateDiff keys
    appearance_unet: dict = field(default_factory=dict)  # {model key: tensor}
    appearance_missing: tuple = ()  # model keys TCAN's encoder file omits by design (tcan.md 11.1)
    controlnet: dict = field(default_factory=dict)  # {cldm name: tensor}
    controlnet_motion_state: dict = field(default_factory=dict)  # ControlNet motion modules (down 2, 3)
    sources: dict = field(default_factory=dict)  # {role: file name it came from}

    @property
    def roles(self):
        """The parts present, of "unet", "appearance", "controlnet"."""
        return tuple(role for role, fields in ROLE_FIELDS.items() if getattr(self, fields[0]))

    def lora_deltas(self, strength=1.0):
        """{model key: (alpha / rank) * strength * B @ A}; computed on each call (they are as large as
        the weights they patch, so they are not kept)."""
        return lora_deltas(self.lora, strength)

    def role_fields(self, role):
        """{field: value} of one role, to combine parts read from different files."""
        return {name: getattr(self, name) for name in ROLE_FIELDS[role]}
