"""Putting TCAN checkpoint weights (tcan_core.checkpoints.TCANWeights) into ComfyUI objects.

- The UNet file's base weights replace the MODEL's weights ("set" weight patches on the clone; the
  official UNet carries its own base model), applied by ComfyUI when the clone loads; its APPA LoRA
  is appa.py's.
- The AppearanceEncoder becomes its own UNet (same SD1.5 topology; its last transformer block's
  unused layers and the output layers are absent by design and stay at zero) in its own
  ModelPatcher, an additional model of the MODEL clone, run by reference attention's appearance
  pass. Without that file, a TCAN UNet file's base weights (no LoRA) make the appearance UNet.
- The ControlNetT becomes a stock ComfyUI ControlNet plus its own temporal layers.
"""

import torch

from .motion_modules import weight_shapes_without_injections

APPEARANCE_KEY = "tcan_appearance"


def shape_errors(expected, given, limit=4):
    """expected: {key: shape}; given: {key: tensor} -> first unknown keys, first wrong shapes, counts."""
    missing = [k for k in given if k not in expected]
    wrong = [f"{k} {tuple(given[k].shape)} vs {expected[k]}" for k in given
             if k in expected and tuple(given[k].shape) != expected[k]]
    return missing[:limit], wrong[:limit], len(missing), len(wrong)


def apply_unet_base(patcher, weights):
    """A TCAN UNet file's base weights as "set" patches on a cloned UNet patcher."""
    if not weights.unet_base:
        return patcher
    unknown, wrong, n_unknown, n_wrong = shape_errors(weight_shapes_without_injections(patcher.model),
                                                      weights.unet_base)
    if n_unknown or n_wrong:
        raise ValueError(
            f"the TCAN UNet file {weights.sources.get('unet', '')} does not fit this MODEL: {n_unknown} unknown keys "
            f"{unknown}, {n_wrong} of another shape {wrong}. Connect an SD1.5 checkpoint's MODEL to Load TCAN.")
    patcher.add_patches({k: ("set", (v,)) for k, v in weights.unet_base.items()}, 1.0)
    return patcher


def appearance_unet(patcher, weights, lora_strength=1.0):
    """-> (ModelPatcher of the appearance UNet, runner(x, t, context, transformer_options)) or (None, None)
    when the denoising UNet itself serves (zero-shot, or a TCAN UNet file without LoRA).

    The AppearanceEncoder file when given; else, with a TCAN UNet file whose APPA LoRA is on, that
    file's base weights without the LoRA: TCAN's appearance encoder is a plain 2-D UNet."""
    if weights.appearance_unet:
        state, omitted, source = weights.appearance_unet, set(weights.appearance_missing), weights.sources.get(
            "appearance", "")
    elif weights.unet_base and weights.lora and lora_strength:
        state, omitted, source = weights.unet_base, set(), weights.sources.get("unet", "")
    else:
        return None, None
    import comfy.model_patcher

    base = patcher.model
    appearance = base.model_config.get_model({}, device="cpu")
    missing, unexpected = appearance.load_state_dict(state, strict=False)
    missing = [k for k in missing if k.startswith("diffusion_model.") and k not in omitted]
    unexpected = [k for k in unexpected if k.startswith("diffusion_model.")]
    if missing or unexpected:
        raise ValueError(f"the TCAN appearance weights {source} do not fit this MODEL: "
                         f"missing {missing[:4]}, unexpected {unexpected[:4]}. Pick the [AppearanceEncoder] file of "
                         "the same training run, and connect an SD1.5 checkpoint's MODEL to Load TCAN")
    with torch.no_grad():  # the parts TCAN's encoder file leaves out are never used; keep them defined
        params = dict(appearance.named_parameters())
        for key in omitted:
            if key in params:
                params[key].zero_()
    dtype = base.manual_cast_dtype or base.get_dtype()
    appearance = appearance.to(dtype=dtype).eval().requires_grad_(False)
    appearance_patcher = comfy.model_patcher.ModelPatcher(appearance, load_device=patcher.load_device,
                                                          offload_device=patcher.offload_device)

    def run(x, t, context, transformer_options):
        unet = appearance_patcher.model.diffusion_model
        device = next(unet.parameters()).device
        unet(x.to(device=device, dtype=dtype), t.to(device), context=context.to(device=device, dtype=dtype),
             transformer_options=transformer_options)

    return appearance_patcher, run


def tcan_controlnet(weights):
    """The ControlNetT file as a stock ComfyUI ControlNet (its temporal layers are loaded separately)."""
    import comfy.controlnet

    control = comfy.controlnet.load_controlnet_state_dict(dict(weights.controlnet))
    if control is None:
        raise ValueError(f"ComfyUI could not load the TCAN ControlNetT {weights.sources.get('controlnet', '')}; "
                         "check that it is a [ControlNetT] file (python -m tcan_core.checkpoints.convert lists what a "
                         "file holds)")
    return control
