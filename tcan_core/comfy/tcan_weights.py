"""Putting TCAN checkpoint weights (tcan_core.checkpoints.TCANWeights) into ComfyUI objects.

- The UNet file's base weights replace the MODEL's weights ("set" weight patches on the clone; the
  official UNet carries its own base model) and its APPA LoRA is added as "diff" patches (ΔW = B·A,
  scale alpha / rank = 1), both applied by ComfyUI when the clone loads — no comfy.hooks.
- The AppearanceEncoder becomes its own UNet (same SD1.5 topology; its last transformer block's
  unused layers and the output layers are absent by design and stay at zero) in its own
  ModelPatcher, an additional model of the MODEL clone, run by reference attention's appearance
  pass. Without that file, a TCAN UNet file's base weights (no LoRA) make the appearance UNet.
- The ControlNetT becomes a stock ComfyUI ControlNet plus its own temporal layers.
"""

import torch

from .motion_injection import weight_shapes_without_injections

APPEARANCE_KEY = "tcan_appearance"


def _shape_errors(expected, given, limit=4):
    """expected: {key: shape}; given: {key: tensor} -> first unknown keys, first wrong shapes, counts."""
    missing = [k for k in given if k not in expected]
    wrong = [f"{k} {tuple(given[k].shape)} vs {expected[k]}" for k in given
             if k in expected and tuple(given[k].shape) != expected[k]]
    return missing[:limit], wrong[:limit], len(missing), len(wrong)


def apply_unet_weights(patcher, weights, lora_strength=1.0):
    """Base weights as "set" patches and the LoRA as "diff" patches on a cloned UNet patcher."""
    if not weights.unet_base and not weights.lora:
        return patcher
    model_weights = weight_shapes_without_injections(patcher.model)
    unknown, wrong, n_unknown, n_wrong = _shape_errors(model_weights, weights.unet_base)
    if n_unknown or n_wrong:
        raise ValueError(
            f"the TCAN UNet file {weights.sources.get('unet', '')} does not fit this MODEL (an SD1.5 model is needed): "
            f"{n_unknown} unknown keys {unknown}, {n_wrong} of another shape {wrong}")
    patcher.add_patches({k: ("set", (v,)) for k, v in weights.unet_base.items()}, 1.0)
    if weights.lora and lora_strength:
        deltas = weights.lora_deltas(1.0)
        unknown, wrong, n_unknown, n_wrong = _shape_errors(model_weights, deltas)
        if n_unknown or n_wrong:
            raise ValueError(f"the APPA LoRA does not fit this MODEL: {unknown} {wrong}")
        patcher.add_patches({k: ("diff", (v,)) for k, v in deltas.items()}, lora_strength)
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
                         f"missing {missing[:4]}, unexpected {unexpected[:4]}")
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
        raise ValueError(f"ComfyUI could not load the TCAN ControlNetT {weights.sources.get('controlnet', '')}")
    return control
