"""Load TCAN: the user's SD1.5 MODEL and OpenPose CONTROL_NET turned into TCAN's models."""

from ..temporal import load_motion_modules
from .bundle import TCANBundle
from .controlnet import make_temporal_controlnet
from .motion_patch import apply_motion_modules
from .reference_attention import apply_reference_attention
from .tcan_weights import APPEARANCE_KEY, appearance_unet, apply_unet_weights, tcan_controlnet


def load_tcan(model, control_net, motion_modules, *, weights=None, lora_strength=1.0, reference_attention=True,
              reference_strength=1.0, uncond_reference=False, temporal_controlnet=True, ptm_tau=3.0, cross_frame_norm=False,
              beta_schedule="sqrt_linear", chunk_length=16):
    """TCAN's models from the user's MODEL and CONTROL_NET; returns (patched MODEL, TCANBundle), the
    inputs are not modified.

    Zero-shot (weights None): the motion modules go into the UNet (PTM at sampling), the UNet itself
    is the appearance encoder for reference attention, and the ControlNet gets temporal layers
    initialised from the motion module's down blocks 2/3. With TCAN weights (TCANWeights), each part
    the files hold replaces its zero-shot counterpart: UNet base + APPA LoRA + motion modules, the
    appearance encoder, the ControlNetT and its temporal layers."""
    if ptm_tau < 0:
        raise ValueError(f"ptm_tau must be >= 0 (0 = off), got {ptm_tau}")
    notes = []
    unet_modules, control_modules = motion_modules, motion_modules
    if weights is not None and weights.motion_module_state:
        unet_modules = load_motion_modules(weights.motion_module_state, source=weights.sources.get("unet", "TCAN UNet"))
        notes.append("UNet motion modules from the TCAN UNet file")
    if weights is not None and weights.controlnet:
        control_net = tcan_controlnet(weights)
        notes.append("ControlNet from the TCAN ControlNetT file")
        if weights.controlnet_motion_state:
            control_modules = load_motion_modules(weights.controlnet_motion_state,
                                                  source=weights.sources.get("controlnet", "TCAN ControlNetT"))
    patched = apply_motion_modules(model, unet_modules, cross_frame_norm=cross_frame_norm, beta_schedule=beta_schedule)
    if weights is not None:
        apply_unet_weights(patched, weights, lora_strength)
        if weights.unet_base:
            notes.append(f"UNet base weights and APPA LoRA (strength {lora_strength}) from the TCAN UNet file")
    appearance = None
    if reference_attention:
        appearance_patcher, appearance = appearance_unet(patched, weights) if weights is not None else (None, None)
        if appearance_patcher is not None:
            patched.set_additional_models(APPEARANCE_KEY, [appearance_patcher])
            notes.append("appearance encoder from the TCAN AppearanceEncoder file")
        apply_reference_attention(patched, uncond_reference=uncond_reference, appearance=appearance,
                                  strength=reference_strength)
    controlnet = make_temporal_controlnet(control_net, control_modules if temporal_controlnet else None,
                                          chunk_length=chunk_length)
    bundle = TCANBundle(controlnet=controlnet, ptm_tau=float(ptm_tau), reference_attention=reference_attention,
                        reference_strength=float(reference_strength), uncond_reference=bool(uncond_reference),
                        mode="tcan weights" if weights is not None else "zero-shot", notes=notes)
    return patched, bundle
