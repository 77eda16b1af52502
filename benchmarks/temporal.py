"""Cost of the motion modules and of PTM inside one SD1.5 UNet forward, as ratios within one run.

    python benchmarks/temporal.py --comfyui /path/to/ComfyUI --models /path/to/models \
        [--frames 16] [--latent 32] [--repeats 5]

Needs a ComfyUI tree (CPU is fine) and a folder laid out like ComfyUI/models with an SD1.5
checkpoint (checkpoints/sd15_random.safetensors) and a motion module
(animatediff_models/mm_sd_v15_v2_random.ckpt); random weights are fine for timing
(../shared/tools/comfyui/make_models.py, make_motion_module.py). Runs the three variants
interleaved and reports medians: plain UNet, UNet + motion modules, UNet + motion modules + PTM.
"""

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), required=not os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--models", default=os.environ.get("TCAN_TEST_MODELS"), required=not os.environ.get("TCAN_TEST_MODELS"))
    parser.add_argument("--checkpoint", default="checkpoints/sd15_random.safetensors")
    parser.add_argument("--motion-module", default="animatediff_models/mm_sd_v15_v2_random.ckpt")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--latent", type=int, default=16, help="latent size (16 = 128x128 images)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    sys.path[:0] = [ROOT, os.path.abspath(args.comfyui)]
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args

    comfy.cli_args.args.cpu = not _has_cuda()
    import comfy.model_management
    import comfy.sd
    import comfy.utils
    import torch
    from comfy.patcher_extension import copy_nested_dicts

    from tcan_core.comfy.motion_patch import apply_motion_modules
    from tcan_core.pose import render, retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE
    from tcan_core.temporal import load_motion_modules, temperature_map

    model = comfy.sd.load_checkpoint_guess_config(os.path.join(args.models, args.checkpoint), output_vae=False,
                                                  output_clip=False)[0]
    modules = load_motion_modules(comfy.utils.load_torch_file(os.path.join(args.models, args.motion_module)))
    patched = apply_motion_modules(model, modules)
    poses = retarget(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE))[:args.frames]
    size = args.latent * 8
    temperature = torch.from_numpy(temperature_map(render(poses, size, size)))

    device = comfy.model_management.get_torch_device()
    dtype = model.model.get_dtype()
    x = torch.randn(2 * args.frames, 4, args.latent, args.latent, device=device, dtype=dtype)
    t = torch.full((x.shape[0],), 0.5, device=device)
    context = torch.zeros(x.shape[0], 77, 768, device=device, dtype=dtype)

    def runner(patcher, extra):
        def run():
            comfy.model_management.load_models_gpu([patcher])
            options = copy_nested_dicts(patcher.model_options.get("transformer_options", {}))
            options["wrappers"] = copy_nested_dicts(patcher.wrappers)
            options.update(cond_or_uncond=[0, 1], **extra)
            with torch.no_grad():
                patcher.model.apply_model(x, t, c_crossattn=context, transformer_options=options)
            if device.type == "cuda":
                torch.cuda.synchronize()
        return run

    variants = {"plain UNet": runner(model, {}), "+ motion modules": runner(patched, {}),
                "+ motion modules + PTM": runner(patched, {"tcan": {"temperature": temperature.to(device)}})}
    times = {name: [] for name in variants}
    for run in variants.values():
        run()  # warm-up (and the first load)
    for _ in range(args.repeats):
        for name, run in variants.items():  # interleaved, so machine noise hits all alike
            run()  # loads the right patcher (not timed)
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in times.items()}
    print(f"one UNet forward: batch {x.shape[0]} (2 chunks x {args.frames} frames), latent {args.latent}x{args.latent}, "
          f"{device}, {dtype}, median of {args.repeats}")
    for name, value in median.items():
        print(f"  {name:24s} {value:7.3f} s")
    print(f"motion modules / plain UNet: {median['+ motion modules'] / median['plain UNet']:.3f}")
    print(f"PTM overhead: {100 * (median['+ motion modules + PTM'] / median['+ motion modules'] - 1):+.2f}%")


def _has_cuda():
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    main()
