"""TCAN checkpoint files: detect their kind, convert diffusers names to ComfyUI's, read and write
the pack's single-file form. Pure: torch and safetensors only, no ComfyUI import."""

from .detect import KINDS, detect_kind
from .files import APPEARANCE_OMITTED, APPEARANCE_OUTPUT_OMITTED, load_tcan_files
from .lora import LoRA, lora_deltas, split_peft
from .names import UNET_PREFIX, controlnet_name_map, rename, unet_name_map
from .pack import read_pack, write_pack
from .read import read_state_dict
from .weights import TCANWeights

__all__ = ["APPEARANCE_OMITTED", "APPEARANCE_OUTPUT_OMITTED", "KINDS", "UNET_PREFIX", "LoRA", "TCANWeights", "controlnet_name_map", "detect_kind",
           "load_tcan_files", "lora_deltas", "read_pack", "read_state_dict", "rename", "split_peft", "unet_name_map",
           "write_pack"]
