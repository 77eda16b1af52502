"""Load TCAN: the user's SD1.5 MODEL and OpenPose CONTROL_NET turned into TCAN's models."""

from ..temporal import cross_frame_norm_for, load_motion_modules
from . import window_loop
from .appa import apply_appa
from .bundle import TCANBundle
from .motion_modules import apply_motion_modules
from .reference_attention import apply_reference_attention
from .tcan_weights import APPEARANCE_KEY, appearance_unet, apply_unet_base, tcan_controlnet
from .temporal_controlnet import make_temporal_controlnet


def load_tcan(model, control_net, motion_modules, *, weights=None, lora_strength=1.0, reference_attention=True,
              reference_strength=1.0, uncond_reference=False, temporal_controlnet=True, ptm_tau=3.0, groupnorm="auto",
              beta_schedule="sqrt_linear", chunk_length=16, use_mid_block=False):
    """TCAN's models from the user's MODEL and CONTROL_NET; returns (patched MODEL, TCANBundle), the
    inputs are not modified.

    Zero-shot (weights None): the motion modules go into the UNet (PTM at sampling), the UNet itself
    is the appearance encoder for reference attention, and the ControlNet gets temporal layers
    initialised from the motion module's down blocks 2/3. With TCAN weights (TCANWeights), each part
    the files hold replaces its zero-shot counterpart: UNet base + APPA LoRA + motion modules, the
    appearance encoder, the ControlNetT and its temporal layers.

    groupnorm: "auto", "across frames" or "per frame" for the res blocks' GroupNorm (see
    temporal.group_norm.cross_frame_norm_for): auto is across frames in the UNet with a TCAN UNet
    file or v1 modules, and in the ControlNet with a TCAN ControlNetT file (TCAN's 3-D res blocks).
    use_mid_block: also insert a v2 file's mid-block module (TCAN has none)."""
    from comfy.patcher_extension import WrappersMP

    if ptm_tau < 0:
        raise ValueError(f"ptm_tau must be >= 0 (0 = off), got {ptm_tau}")
    notes = []
    unet_modules, control_modules = motion_modules, motion_modules
    tcan_unet = weights is not None and bool(weights.unet_base or weights.motion_module_state)
    tcan_control = weights is not None and bool(weights.controlnet)
    if weights is not None and weights.motion_module_state:
        unet_modules = load_motion_modules(weights.motion_module_state, source=weights.sources.get("unet", "TCAN UNet"))
        notes.append("UNet motion modules from the TCAN UNet file")
    if tcan_control:
        control_net = tcan_controlnet(weights)
        notes.append("ControlNet from the TCAN ControlNetT file")
        if weights.controlnet_motion_state:
            control_modules = load_motion_modules(weights.controlnet_motion_state,
                                                  source=weights.sources.get("controlnet", "TCAN ControlNetT"))
    unet_across = cross_frame_norm_for(groupnorm, unet_modules, tcan_trained=tcan_unet)
    control_across = cross_frame_norm_for(groupnorm, None, tcan_trained=tcan_control)
    notes.append(f"GroupNorm of the res blocks: {'across the frames of a window' if unet_across else 'per frame'} "
                 f"in the UNet, {'across the frames of a chunk' if control_across else 'per frame'} in the ControlNet")
    patched = apply_motion_modules(model, unet_modules, cross_frame_norm=unet_across, beta_schedule=beta_schedule,
                                   use_mid_block=use_mid_block)
    # TCAN's window loop over the whole batch (the stock KSampler path); Sample Long Video sets its windows
    window_loop.install(patched, window_loop.TCANWindows())
    patched.add_wrapper_with_key(WrappersMP.PREPARE_SAMPLING, window_loop.WRAPPER_KEY, window_loop.refuse_core_windows)
    if weights is not None:
        apply_unet_base(patched, weights)
        apply_appa(patched, weights, lora_strength)
        if weights.unet_base:
            notes.append(f"UNet base weights and APPA LoRA (strength {lora_strength}) from the TCAN UNet file")
    if reference_attention:
        appearance_patcher, appearance = appearance_unet(patched, weights, lora_strength) if weights is not None \
            else (None, None)
        if appearance_patcher is not None:
            patched.set_additional_models(APPEARANCE_KEY, [appearance_patcher])
            notes.append("appearance encoder from the TCAN AppearanceEncoder file" if weights.appearance_unet else
                         "appearance encoder: the TCAN UNet file's base weights without the APPA LoRA (TCAN's "
                         "appearance encoder never carries the LoRA)")
        apply_reference_attention(patched, uncond_reference=uncond_reference, appearance=appearance,
                                  strength=reference_strength)
    controlnet = make_temporal_controlnet(control_net, control_modules if temporal_controlnet else None,
                                          chunk_length=chunk_length, cross_frame_norm=control_across)
    bundle = TCANBundle(controlnet=controlnet, ptm_tau=float(ptm_tau), reference_attention=reference_attention,
                        mode="tcan weights" if weights is not None else "zero-shot", notes=notes)
    return patched, bundle
