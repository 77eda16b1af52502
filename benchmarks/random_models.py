"""Random-weight SD1.5-shaped model files in the layouts ComfyUI loads, for benchmarks and tests when no
real weights may be downloaded (the GPU check builds them on the spot).

    python benchmarks/random_models.py --comfyui /path/to/ComfyUI --out /path/to/models

Writes, like ../shared/tools/comfyui (whose files the tests use by these names):
  checkpoints/sd15_random.safetensors     UNet + VAE + CLIP-L, LDM single-file layout, fp16
  controlnet/openpose_random.safetensors  SD1.5 ControlNet ("control_model." layout), fp16
  animatediff_models/mm_sd_v15_v2_random.ckpt, mm_sd_v15_random.ckpt  AnimateDiff v2 / v1 layouts
Keys and shapes come from ComfyUI's own classes built on the meta device (its SD1.5 inference config)
and from the pack's MotionModule; values are N(0, 0.02), biases 0, norm weights 1.
"""

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {"checkpoint": ("checkpoints", "sd15_random.safetensors"),
         "controlnet": ("controlnet", "openpose_random.safetensors"),
         "motion_v2": ("animatediff_models", "mm_sd_v15_v2_random.ckpt"),
         "motion_v1": ("animatediff_models", "mm_sd_v15_random.ckpt")}
LEVELS = (320, 640, 1280, 1280)


def paths(models):
    return {name: os.path.join(models, folder, file) for name, (folder, file) in FILES.items()}


def missing(models):
    return [name for name, path in paths(models).items() if not os.path.isfile(path)]


def _value(name, shape, dtype, generator, std=0.02):
    import torch

    leaf = name.rsplit(".", 1)[-1]
    if "position_ids" in name:
        return torch.arange(shape[-1], dtype=torch.int64).reshape(shape)
    if not dtype.is_floating_point:
        return torch.zeros(shape, dtype=dtype)
    if leaf == "bias":
        return torch.zeros(shape, dtype=torch.float16)
    if len(shape) == 1 and ("norm" in name.lower() or ".ln" in name):
        return torch.ones(shape, dtype=torch.float16)
    if leaf == "logit_scale":
        return torch.full(shape, 4.6052, dtype=torch.float16)
    return (torch.randn(shape, generator=generator) * std).to(torch.float16)


def _materialize(state, generator):
    return {k: _value(k, tuple(v.shape), v.dtype, generator).contiguous() for k, v in sorted(state.items())}


def sd15_shapes(comfyui):
    """(checkpoint tensors, ControlNet tensors) on the meta device, from ComfyUI's SD1.5 classes."""
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops
    import torch
    import yaml
    from comfy.ldm.models.autoencoder import AutoencoderKL

    with open(os.path.join(comfyui, "models", "configs", "v1-inference.yaml")) as f:
        params = yaml.safe_load(f)["model"]["params"]
    unet = dict(params["unet_config"]["params"])
    unet.pop("use_checkpoint", None)
    config = comfy.model_detection.convert_config(unet)
    for key, value in (("use_linear_in_transformer", False), ("adm_in_channels", None),
                       ("use_temporal_attention", False)):
        config.setdefault(key, value)
    model_config = comfy.model_detection.model_config_from_unet_config(config)
    vae_params = params["first_stage_config"]["params"]
    meta = torch.device("meta")
    with meta:
        base = model_config.get_model({}, device=meta)
        vae = AutoencoderKL(ddconfig=vae_params["ddconfig"], embed_dim=vae_params["embed_dim"])
        clip = model_config.clip_target().clip(device=meta)
    saving = base.state_dict_for_saving(clip_state_dict=clip.state_dict(), vae_state_dict=vae.state_dict())
    checkpoint = {k: v for k, v in saving.items()
                  if k.startswith(("model.diffusion_model.", "first_stage_model.", "cond_stage_model."))}
    control_config = {k: v for k, v in model_config.unet_config.items() if k != "out_channels"}
    control = comfy.cldm.cldm.ControlNet(**control_config, hint_channels=3, operations=comfy.ops.disable_weight_init,
                                         device=meta)
    return checkpoint, {"control_model." + k: v for k, v in control.state_dict().items()}


def motion_module_state(v2, generator):
    """AnimateDiff's SD1.5 module layout: 20 modules (v1, 24-frame encoding) or 21 with the mid block
    (v2, 32 frames)."""
    from tcan_core.temporal import MotionModule

    names = [(f"down_blocks.{i}.motion_modules.{j}", LEVELS[i]) for i in range(4) for j in range(2)]
    names += [(f"up_blocks.{i}.motion_modules.{j}", LEVELS[3 - i]) for i in range(4) for j in range(3)]
    if v2:
        names.append(("mid_block.motion_modules.0", LEVELS[-1]))
    state = {}
    for name, width in names:
        module = MotionModule(width, max_len=32 if v2 else 24)
        for key, value in module.state_dict().items():
            full = f"{name}.{key}"
            state[full] = value.half() if key.endswith(".pe") else _value(full, tuple(value.shape), value.dtype,
                                                                           generator)
    return state


def build(comfyui, models, seed=0):
    """Write the files that are missing; -> seconds spent."""
    import safetensors.torch
    import torch

    start = time.perf_counter()
    todo = missing(models)
    generator = torch.Generator().manual_seed(seed)
    where = paths(models)
    for name in todo:
        os.makedirs(os.path.dirname(where[name]), exist_ok=True)
    if "checkpoint" in todo or "controlnet" in todo:
        checkpoint, control = sd15_shapes(comfyui)
        for name, shapes in (("checkpoint", checkpoint), ("controlnet", control)):
            if name in todo:
                safetensors.torch.save_file(_materialize(shapes, generator), where[name],
                                            metadata={"note": "random weights, SD1.5 architecture, test only"})
    for name, v2 in (("motion_v2", True), ("motion_v1", False)):
        if name in todo:
            torch.save(motion_module_state(v2, generator), where[name])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), required=not os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    sys.path[:0] = [ROOT, os.path.abspath(args.comfyui)]
    import comfy.options

    comfy.options.enable_args_parsing(False)
    seconds = build(os.path.abspath(args.comfyui), args.out)
    print(f"random models in {args.out} ({seconds:.1f} s)")


if __name__ == "__main__":
    main()
