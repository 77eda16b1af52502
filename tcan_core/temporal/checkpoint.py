"""Reading AnimateDiff motion modules from a state dict (motion-module file or TCAN UNet file)."""

import re
from collections import defaultdict

import torch

from .motion_module import MotionModule

# "<anything>.down_blocks.1.motion_modules.0.temporal_transformer.<rest>" (also up_blocks / mid_block)
_KEY = re.compile(r"^(?:.*?\.)?((?:down_blocks|up_blocks)\.\d+\.motion_modules\.\d+|mid_block\.motion_modules\.\d+)"
                  r"\.(temporal_transformer\..+)$")
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def motion_module_names(state_dict):
    """The module names found in a state dict, e.g. ['down_blocks.0.motion_modules.0', ...]."""
    return sorted({m.group(1) for m in map(_KEY.match, state_dict) if m}, key=_order)


def _order(name):
    """Order modules as they run in the UNet: down blocks, mid, up blocks."""
    part = name.split(".")
    rank = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}[part[0]]
    return (rank, int(part[1]) if rank != 1 else 0, int(part[-1]))


def load_motion_modules(state_dict, *, dtype=None, device="cpu", source="state dict"):
    """Original AnimateDiff names -> {name: MotionModule}, e.g. modules["down_blocks.0.motion_modules.0"].

    Width and position-encoding length come from the tensors (v1: 24 frames, v2: 32); dtype
    defaults to the checkpoint's. Keys of other models (a TCAN UNet's spatial layers) are ignored;
    a module with missing or unexpected keys raises ValueError listing the first few.
    """
    grouped = defaultdict(dict)
    for key, value in state_dict.items():
        match = _KEY.match(key)
        if match:
            grouped[match.group(1)][match.group(2)] = value
    if not grouped:
        sample = ", ".join(list(state_dict)[:5]) or "(empty)"
        raise ValueError(
            f"{source} holds no AnimateDiff motion modules (no '...motion_modules...temporal_transformer' keys; "
            f"first keys: {sample}). Expected an AnimateDiff SD1.5 motion module such as mm_sd_v15_v2.ckpt "
            "in ComfyUI/models/animatediff_models/.")
    modules = {}
    for name in sorted(grouped, key=_order):
        weights = grouped[name]
        proj_in = weights.get("temporal_transformer.proj_in.weight")
        pe = weights.get("temporal_transformer.transformer_blocks.0.attention_blocks.0.pos_encoder.pe")
        if proj_in is None or pe is None:
            raise ValueError(f"{source}: motion module {name} lacks proj_in.weight or pos_encoder.pe")
        module = MotionModule(int(proj_in.shape[0]), max_len=int(pe.shape[1]))
        module_dtype = dtype or (proj_in.dtype if proj_in.dtype in _FLOAT_DTYPES else torch.float32)
        missing, unexpected = module.load_state_dict(weights, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{source}: motion module {name} does not match the AnimateDiff layout; "
                f"missing {missing[:4]}{'...' if len(missing) > 4 else ''}, "
                f"unexpected {unexpected[:4]}{'...' if len(unexpected) > 4 else ''}")
        modules[name] = module.to(device=device, dtype=module_dtype).eval().requires_grad_(False)
    return modules
