"""Cost of reference attention (and of 8 TPC calibrated images) in one denoising step, as ratios.

    python benchmarks/appearance.py --comfyui /path/to/ComfyUI --models /path/to/models [--latent 16]

One step of one 16-frame window with cond and uncond: the UNet with motion modules, then the same
with reference attention (the appearance pass on the reference runs once per step, and frames
attend to [own, reference] tokens), then with the reference plus 8 calibrated images (appearance
pass on 9 images, frames attend to [own, reference, their calibrated image]), and that with the
public TPC code's attention masks (a person box in the middle of every mask). Interleaved medians.
"""

import argparse

from comfy_bench import add_arguments, interleaved_medians, start_comfy, unet_call


def main():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    model, modules = start_comfy(args)
    import comfy.model_management
    import torch

    from tcan_core.comfy.motion_modules import apply_motion_modules
    from tcan_core.comfy.reference_attention import apply_reference_attention
    from tcan_core.comfy.window_context import Evaluation, References, Window

    device = comfy.model_management.get_torch_device()
    dtype = model.model.get_dtype()
    plain = apply_motion_modules(model, modules)
    with_reference = apply_motion_modules(model, modules)
    apply_reference_attention(with_reference)
    x = torch.randn(2 * args.frames, 4, args.latent, args.latent, device=device, dtype=dtype)
    latents = torch.randn(9, 4, args.latent, args.latent, device=device, dtype=dtype)
    group = torch.arange(args.frames) * 8 // args.frames  # 8 groups of frames
    slots = torch.stack([torch.zeros_like(group), 1 + group], dim=1)

    box = torch.zeros(args.latent, args.latent)
    box[args.latent // 4:3 * args.latent // 4, args.latent // 3:2 * args.latent // 3] = 1
    masks = {"query_masks": box.expand(args.frames, -1, -1), "masks": box.expand(9, -1, -1),
             "calibrated": torch.arange(9) > 0}
    calls = iter(range(10 ** 9))

    def fresh(references):
        # a new Evaluation per call: every timed call pays the once-per-evaluation appearance pass
        def options():
            window = Window(Evaluation(next(calls), references), list(range(args.frames)), x[:args.frames])
            return {"cond_or_uncond": [0, 1], "tcan": window}
        return options

    def call(patcher, state_factory):
        def run():
            unet_call(patcher, x, state_factory())()
        return run

    median = interleaved_medians({
        "motion modules": call(plain, fresh(None)),
        "+ reference attention": call(with_reference, fresh(References(latents[:1]))),
        "+ reference + 8 calibrated": call(with_reference, fresh(References(latents, slots=slots))),
        "+ ... with TPC masks": call(with_reference, fresh(References(latents, slots=slots, **masks))),
    }, args.repeats)
    print(f"one step of a {args.frames}-frame window (cond + uncond), latent {args.latent}x{args.latent}, {device}")
    for name, value in median.items():
        print(f"  {name:28s} {value:7.3f} s")
    base = median["motion modules"]
    print(f"reference attention / without: {median['+ reference attention'] / base:.3f}")
    print(f"reference + 8 calibrated / without: {median['+ reference + 8 calibrated'] / base:.3f}")
    print(f"reference + 8 calibrated with TPC masks / without: {median['+ ... with TPC masks'] / base:.3f}")


if __name__ == "__main__":
    main()
