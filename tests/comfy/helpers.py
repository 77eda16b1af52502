"""What the tests in tests/comfy share: calling the patched UNet and ControlNet the way a sampler does,
window contexts, the bundled poses and a TPC calibration, TCAN-format files built from a MODEL."""

import re

import torch

LORA_TARGET = re.compile(r"attentions\.\d+\.transformer_blocks\.0\.attn[12]\.to_[qkv]\.weight$")


# -- the UNet ----------------------------------------------------------------------------------------

def apply_model(patcher, x, extra_options):
    """One UNet call with the transformer_options a sampler would build for this patcher."""
    import comfy.model_management
    from comfy.patcher_extension import copy_nested_dicts

    comfy.model_management.load_models_gpu([patcher])
    transformer_options = copy_nested_dicts(patcher.model_options.get("transformer_options", {}))
    transformer_options["wrappers"] = copy_nested_dicts(patcher.wrappers)
    transformer_options.update(extra_options)
    context = torch.zeros(x.shape[0], 77, 768)
    t = torch.full((x.shape[0],), 0.5)
    with torch.no_grad():
        return patcher.model.apply_model(x, t, c_crossattn=context, transformer_options=transformer_options)


def unet_out(patcher, seed=0):
    """The UNet's output for 4 frames, cond and uncond, with a random reference (seeded)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 4, 8, 8, generator=g)
    reference = torch.randn(1, 4, 8, 8, generator=g) * 0.18
    return apply_model(patcher, x, {"cond_or_uncond": [0, 1], "tcan": window(4, x[:4], reference)})


def window(frames, clip=None, references=None, temperature=None, evaluation=0):
    """transformer_options["tcan"] as TCAN's window loop writes it: a Window of `frames` (absolute indices;
    an int n means 0..n-1) in a fresh Evaluation; `references` a latent [R, 4, h, w] or References."""
    from tcan_core.comfy.window_context import Evaluation, References, Window

    frames = list(range(frames)) if isinstance(frames, int) else list(frames)
    if references is not None and not isinstance(references, References):
        references = References(references)
    return Window(Evaluation(evaluation, references), frames, clip, temperature)


def injected(model):
    from tcan_core.comfy.motion_modules import InjectedMotionModule

    return [m for m in model.model.diffusion_model.modules() if isinstance(m, InjectedMotionModule)]


# -- the ControlNet --------------------------------------------------------------------------------

def residuals(control, model, x, hint, transformer_options=None, batched=1, context=None, strength=1.0):
    """A ControlNet's residuals for latents x and pose hints, called the way ComfyUI's sampler calls it."""
    import comfy.model_management

    c = control.copy().set_cond_hint(hint, strength)
    c.pre_run(model.model, lambda p: model.model.model_sampling.percent_to_sigma(p))
    comfy.model_management.load_models_gpu(c.get_models())
    sigma = torch.full((x.shape[0],), 2.0)
    context = torch.zeros(x.shape[0], 77, 768) if context is None else context
    with torch.no_grad():
        out = c.get_control(x, sigma, {"c_crossattn": context}, batched, transformer_options or {})
    c.cleanup()
    return out


def flat(out):
    return torch.cat([t.flatten(1) for key in ("output", "middle") for t in out[key] if t is not None], dim=1)


def sample_inputs(frames, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(frames, 4, 8, 8, generator=g), torch.rand(frames, 3, 64, 64, generator=g)


# -- poses and TPC ---------------------------------------------------------------------------------

def poses(frames, size=64):
    """The bundled driving poses retargeted to the bundled reference, rendered as an IMAGE batch."""
    from tcan_core.pose import render, retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE

    driving = load_pose_json(DRIVING_POSE)[:frames]
    return torch.from_numpy(render(retarget(load_pose_json(REFERENCE_POSE), driving), size, size)).float() / 255


def tpc_calibration(frames, **options):
    """Procrustes calibration of a random 384x512 picture onto those poses (4 propagation groups)."""
    import numpy as np

    from tcan_core.calibrate import calibrate
    from tcan_core.pose import retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE

    reference_pose = load_pose_json(REFERENCE_POSE)
    driving = retarget(reference_pose, load_pose_json(DRIVING_POSE)[:frames])
    image = np.random.default_rng(0).random((512, 384, 3)).astype(np.float32)
    return calibrate(image, reference_pose, driving, **{"num_groups": 4, **options})


# -- TCAN-format files -----------------------------------------------------------------------------

def to_diffusers(state, name_map, prefix=""):
    inverse = {ldm: d for d, ldm in name_map.items()}
    return {inverse[k[len(prefix):]]: v for k, v in state.items() if k.startswith(prefix) and k[len(prefix):] in inverse}


def official_unet(unet_ldm, motion_state, lora_scale, seed=0):
    """TCAN's [UNet] file layout: diffusers names, peft base_layer/lora_A/lora_B on the 96 targets, motion modules."""
    from tcan_core.checkpoints import unet_name_map

    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in to_diffusers(unet_ldm, unet_name_map()).items():
        if LORA_TARGET.search(key):
            stem = key[:-len(".weight")]
            state[stem + ".base_layer.weight"] = value
            state[stem + ".lora_A.default.weight"] = torch.randn(16, value.shape[1], generator=g) * 0.01
            state[stem + ".lora_B.default.weight"] = torch.randn(value.shape[0], 16, generator=g) * lora_scale
        else:
            state[key] = value
    state.update({k: v for k, v in motion_state.items() if not k.startswith("mid_block")})
    return state


def load_tcan(parts, weights=None, **options):
    """Load TCAN on the `parts` fixture's MODEL, ControlNet and v2 motion modules."""
    from tcan_core.comfy.load import load_tcan as load

    model, _, control_net, _, modules, _ = parts
    return load(model, control_net, modules, weights=weights, **options)
