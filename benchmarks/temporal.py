"""Cost of the motion modules and of PTM inside one SD1.5 UNet forward, as ratios within one run.

    python benchmarks/temporal.py --comfyui /path/to/ComfyUI --models /path/to/models \
        [--frames 16] [--latent 16] [--repeats 3]

Needs a ComfyUI tree (CPU is fine) and a folder laid out like ComfyUI/models with an SD1.5
checkpoint and a motion module (random weights are fine for timing; see tests/comfy/README.md).
Interleaved medians of: plain UNet, UNet + motion modules, UNet + motion modules + PTM.
"""

import argparse

from comfy_bench import add_arguments, interleaved_medians, start_comfy, unet_call


def main():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--latent", type=int, default=16, help="latent size (16 = 128x128 images)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model, modules = start_comfy(args)
    import comfy.model_management
    import torch

    from tcan_core.comfy.motion_modules import apply_motion_modules
    from tcan_core.comfy.window_context import Evaluation, Window
    from tcan_core.pose import render, retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE
    from tcan_core.temporal import temperature_map

    patched = apply_motion_modules(model, modules)
    poses = retarget(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE))[:args.frames]
    temperature = torch.from_numpy(temperature_map(render(poses, args.latent * 8, args.latent * 8)))
    device = comfy.model_management.get_torch_device()
    x = torch.randn(2 * args.frames, 4, args.latent, args.latent, device=device, dtype=model.model.get_dtype())
    chunks = {"cond_or_uncond": [0, 1]}
    median = interleaved_medians({
        "plain UNet": unet_call(model, x, chunks),
        "+ motion modules": unet_call(patched, x, chunks),
        "+ motion modules + PTM": unet_call(patched, x, {**chunks, "tcan": Window(
            Evaluation(0), list(range(args.frames)), x[:args.frames], temperature.to(device))}),
    }, args.repeats)
    print(f"one UNet forward: batch {x.shape[0]} (2 chunks x {args.frames} frames), latent {args.latent}x{args.latent}, "
          f"{device}, {x.dtype}, median of {args.repeats}")
    for name, value in median.items():
        print(f"  {name:24s} {value:7.3f} s")
    print(f"motion modules / plain UNet: {median['+ motion modules'] / median['plain UNet']:.3f}")
    print(f"PTM overhead: {100 * (median['+ motion modules + PTM'] / median['+ motion modules'] - 1):+.2f}%")


if __name__ == "__main__":
    main()
