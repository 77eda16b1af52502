"""Shared setup for the benchmarks that need ComfyUI: import it (CPU unless CUDA), load the
random-weight models, and time UNet calls the way a sampler makes them."""

import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_arguments(parser):
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), required=not os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--models", default=os.environ.get("TCAN_TEST_MODELS"),
                        required=not os.environ.get("TCAN_TEST_MODELS"))
    parser.add_argument("--checkpoint", default="checkpoints/sd15_random.safetensors")
    parser.add_argument("--motion-module", default="animatediff_models/mm_sd_v15_v2_random.ckpt")


def start_comfy(args):
    """Import ComfyUI from args.comfyui; returns (MODEL, motion modules)."""
    sys.path[:0] = [ROOT, os.path.abspath(args.comfyui)]
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args
    import torch

    comfy.cli_args.args.cpu = not torch.cuda.is_available()
    import comfy.sd
    import comfy.utils

    from tcan_core.temporal import load_motion_modules

    model = comfy.sd.load_checkpoint_guess_config(os.path.join(args.models, args.checkpoint), output_vae=False,
                                                  output_clip=False)[0]
    modules = load_motion_modules(comfy.utils.load_torch_file(os.path.join(args.models, args.motion_module)))
    return model, modules


def unet_call(patcher, x, extra_options):
    """A callable running one UNet call with the transformer_options a sampler builds for patcher."""
    import comfy.model_management
    import torch
    from comfy.patcher_extension import copy_nested_dicts

    t = torch.full((x.shape[0],), 0.5, device=x.device)
    context = torch.zeros(x.shape[0], 77, 768, device=x.device, dtype=x.dtype)

    def run():
        comfy.model_management.load_models_gpu([patcher])
        options = copy_nested_dicts(patcher.model_options.get("transformer_options", {}))
        options["wrappers"] = copy_nested_dicts(patcher.wrappers)
        options.update(extra_options)
        with torch.no_grad():
            patcher.model.apply_model(x, t, c_crossattn=context, transformer_options=options)
        if x.device.type == "cuda":
            torch.cuda.synchronize()
    return run


def interleaved_medians(variants, repeats):
    """{name: run} -> {name: median seconds}; variants alternate so machine noise hits all alike."""
    times = {name: [] for name in variants}
    for run in variants.values():
        run()  # warm-up and first load
    for _ in range(repeats):
        for name, run in variants.items():
            run()  # loads this variant's patcher (not timed)
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(v) for name, v in times.items()}
