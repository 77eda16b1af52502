"""Patching a ComfyUI MODEL with AnimateDiff motion modules (and TCAN's options around them)."""

import copy

from .cross_frame_norm import apply_cross_frame_group_norm
from .motion_injection import INJECTION_KEY, InjectedMotionModule, MotionModuleSet, check_fits, make_injection, \
    run_injected_module

BETA_SCHEDULES = ("sqrt_linear", "model default")


def linear_beta_sampling(model):
    """A copy of the model's sampling object with AnimateDiff's / TCAN's beta schedule (linear in beta,
    0.00085 -> 0.012; ComfyUI calls it sqrt_linear). SD1.5 checkpoints default to scaled-linear."""
    sampling = copy.deepcopy(model.get_model_object("model_sampling"))
    sampling._register_schedule(beta_schedule="sqrt_linear", linear_start=0.00085, linear_end=0.012)
    return sampling


def apply_motion_modules(model, modules, *, cross_frame_norm=False, beta_schedule="sqrt_linear", use_mid_block=False):
    """MODEL + {name: MotionModule} -> a patched clone; the input MODEL is not modified.

    cross_frame_norm: GroupNorm statistics of the res blocks shared across the frames of each chunk
    (AnimateDiff v1 / TCAN training); use_mid_block: also insert a mid-block module if present (TCAN
    has none); beta_schedule: "sqrt_linear" (AnimateDiff/TCAN) or "model default".
    """
    import comfy.model_patcher

    if beta_schedule not in BETA_SCHEDULES:
        raise ValueError(f"beta_schedule must be one of {BETA_SCHEDULES}, got {beta_schedule!r}")
    modules = {n: m for n, m in modules.items() if use_mid_block or not n.startswith("mid_block")}
    if not modules:
        raise ValueError("no motion modules to insert")
    patched = model.clone()
    diffusion_model = patched.model.diffusion_model
    check_fits(diffusion_model, modules)
    dtype = patched.model.manual_cast_dtype or patched.model.get_dtype()
    modules = {n: m.to(dtype=dtype) for n, m in modules.items()}
    motion_patcher = comfy.model_patcher.ModelPatcher(
        MotionModuleSet(modules), load_device=patched.load_device, offload_device=patched.offload_device)
    patched.set_additional_models(INJECTION_KEY, [motion_patcher])
    wrappers = {name: InjectedMotionModule(name, module) for name, module in modules.items()}
    patched.set_injections(INJECTION_KEY, [make_injection(wrappers)])
    patched.set_model_forward_timestep_embed_patch((InjectedMotionModule, run_injected_module))
    if cross_frame_norm:
        apply_cross_frame_group_norm(patched)
    if beta_schedule == "sqrt_linear":
        patched.add_object_patch("model_sampling", linear_beta_sampling(patched))
    return patched
