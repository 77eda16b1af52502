"""Load TCAN: the user's SD1.5 MODEL and OpenPose CONTROL_NET turned into TCAN's models."""

from .bundle import TCANBundle
from .controlnet import make_temporal_controlnet
from .motion_patch import apply_motion_modules
from .reference_attention import apply_reference_attention


def load_tcan(model, control_net, motion_modules, *, reference_attention=True, uncond_reference=False,
              temporal_controlnet=True, ptm_tau=3.0, cross_frame_norm=False, beta_schedule="sqrt_linear",
              chunk_length=16):
    """Zero-shot TCAN: motion modules (+ PTM at sampling), the UNet itself as appearance encoder for
    reference attention, the ControlNet with temporal layers initialised from the motion module.
    Returns (patched MODEL, TCANBundle); the inputs are not modified."""
    if ptm_tau < 0:
        raise ValueError(f"ptm_tau must be >= 0 (0 = off), got {ptm_tau}")
    patched = apply_motion_modules(model, motion_modules, cross_frame_norm=cross_frame_norm, beta_schedule=beta_schedule)
    if reference_attention:
        apply_reference_attention(patched, uncond_reference=uncond_reference)
    controlnet = make_temporal_controlnet(control_net, motion_modules if temporal_controlnet else None,
                                          chunk_length=chunk_length)
    bundle = TCANBundle(controlnet=controlnet, ptm_tau=float(ptm_tau), reference_attention=reference_attention)
    return patched, bundle
