"""APPA (TCAN's appearance-pose adaptation layer): the LoRA on the Q/K/V of every attn1 and attn2 of
the denoising UNet, as ComfyUI "diff" weight patches (delta W = B A, scale alpha / rank = 1 as
TCAN trains it) on a cloned UNet patcher, applied by ComfyUI when the clone loads; strength scales
it (0 = the base alone). The appearance encoder never carries it."""

from .motion_modules import weight_shapes_without_injections
from .tcan_weights import shape_errors


def apply_appa(patcher, weights, strength=1.0):
    """The TCANWeights' APPA LoRA as weight patches on `patcher` (nothing when absent or strength 0)."""
    if not weights.lora or not strength:
        return patcher
    deltas = weights.lora_deltas(1.0)
    unknown, wrong, n_unknown, n_wrong = shape_errors(weight_shapes_without_injections(patcher.model), deltas)
    if n_unknown or n_wrong:
        raise ValueError(f"the APPA LoRA of {weights.sources.get('unet', 'the TCAN UNet file')} does not fit this "
                         f"MODEL ({unknown} {wrong}); connect an SD1.5 checkpoint's MODEL to Load TCAN")
    patcher.add_patches({k: ("diff", (v,)) for k, v in deltas.items()}, strength)
    return patcher
