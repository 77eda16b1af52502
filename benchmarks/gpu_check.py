"""One prepared GPU check: environment, speed, flat VRAM, the CUDA paths and tests/comfy, in one run.

    python benchmarks/gpu_check.py --comfyui /path/to/ComfyUI --models DIR --out DIR [--budget-s 450]
    python benchmarks/gpu_check.py ... --dry-run      # CPU, tiny sizes: checks the script itself

Runs in stages, in order of value; a stage that would not fit the time left is skipped, and a stage
that fails reports its error without stopping the others. The models are random-weight SD1.5-shaped
files (benchmarks/random_models.py builds any that --models lacks; nothing is downloaded). Writes
OUT/gpu_check.json and OUT/gpu_check.md after every stage, so a cut-off run still leaves a summary.

1. environment: GPU, driver, torch/CUDA, ComfyUI, the attention backend ComfyUI picked
2. speed: zero-shot TCAN at 512x512, windows 16/4, cfg 7.5, fp16, a 32-frame clip for a few steps;
   seconds per frame extrapolated to 25 steps, split into UNet windows, appearance pass,
   ControlNet chunks and VAE decode
3. flat VRAM: peak torch.cuda memory while sampling 32 and 128 frames (target ratio <= 1.05, peak
   <= 8 GB at 512x512 fp16; above that, which part holds what)
4. CUDA correctness: TPC's masked reference attention on every installed attention backend against
   a dense mask (fp16/bf16); fp16 vs fp32 UNet on one window; latents on the CPU with windows on the
   GPU vs everything on the GPU
5. tests/comfy on CUDA: a quick subset, in the time left
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

FULL = dict(size=512, frames=32, long_frames=128, window=16, overlap=4, steps=3, cfg=7.5)
DRY = dict(size=64, frames=8, long_frames=16, window=4, overlap=1, steps=1, cfg=7.5)
STAGE_SECONDS = {"environment": 5, "speed": 90, "flat_vram": 120, "cuda_correctness": 90, "tests_comfy": 60}
QUICK_TESTS = ["tests/comfy/test_window_loop.py", "tests/comfy/test_long_video.py::test_short_clips_bad_sizes_and_"
               "mismatched_latents", "tests/comfy/test_long_video.py::test_tpc_calibrated_references_join_the_attention"]


class Check:
    """Stages, their results, the time budget and the summary files."""

    def __init__(self, args):
        self.args = args
        self.sizes = DRY if args.dry_run else FULL
        self.start = time.perf_counter()
        self.results = {"dry_run": args.dry_run, "budget_s": args.budget_s, "stages": {}}
        self.cuda = False
        self.comfy = None

    def left(self):
        return self.args.budget_s - (time.perf_counter() - self.start)

    def stage(self, name, function, needs_cuda=False):
        if needs_cuda and not self.cuda:
            self.results["stages"][name] = {"status": "skipped: no CUDA"}
        elif self.left() < STAGE_SECONDS[name] * (0.2 if self.args.dry_run else 1.0):
            self.results["stages"][name] = {"status": f"skipped: {self.left():.0f} s of the budget left"}
        else:
            began = time.perf_counter()
            try:
                result = {"status": "ok", **function()}
            except Exception as error:  # a stage's failure is its report, not the end of the check
                result = {"status": f"error: {type(error).__name__}: {error}",
                          "traceback": traceback.format_exc(limit=8)}
            result["seconds"] = round(time.perf_counter() - began, 1)
            self.results["stages"][name] = result
        self.write()

    def write(self):
        os.makedirs(self.args.out, exist_ok=True)
        self.results["seconds"] = round(time.perf_counter() - self.start, 1)
        with open(os.path.join(self.args.out, "gpu_check.json"), "w") as f:
            json.dump(self.results, f, indent=1, default=str)
        with open(os.path.join(self.args.out, "gpu_check.md"), "w") as f:
            f.write(markdown(self.results))


def markdown(results):
    lines = [f"# TCAN GPU check{' (dry run on the CPU)' if results['dry_run'] else ''}", "",
             f"{results.get('seconds', 0)} s of a {results['budget_s']} s budget.", ""]
    for name, result in results["stages"].items():
        lines += [f"## {name}: {result['status']}" + (f" ({result['seconds']} s)" if "seconds" in result else ""), ""]
        for key, value in result.items():
            if key in ("status", "seconds", "traceback"):
                continue
            if isinstance(value, dict):
                lines.append(f"- **{key}**:")
                lines += [f"  - {k}: {v}" for k, v in value.items()]
            else:
                lines.append(f"- **{key}**: {value}")
        if "traceback" in result:
            lines += ["", "```", result["traceback"].rstrip(), "```"]
        lines.append("")
    return "\n".join(lines)


# -- setup ---------------------------------------------------------------------------------------------

def start_comfyui(check):
    args = check.args
    sys.path[:0] = [ROOT, os.path.abspath(args.comfyui)]
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args
    import torch

    check.cuda = torch.cuda.is_available() and not args.dry_run
    comfy.cli_args.args.cpu = not check.cuda
    import comfy.model_management  # noqa: F401  (after the device choice)

    import random_models

    built = random_models.missing(args.models)
    if built:
        seconds = random_models.build(os.path.abspath(args.comfyui), args.models)
        check.results["models_built"] = {"files": built, "seconds": round(seconds, 1)}


def load_parts(dtype=None):
    """(MODEL, CLIP, VAE, CONTROL_NET, v2 motion modules) from the random files."""
    import comfy.controlnet
    import comfy.sd
    import comfy.utils

    import random_models
    from tcan_core.temporal import load_motion_modules

    files = random_models.paths(ARGS.models)
    options = {} if dtype is None else {"dtype": dtype}
    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(files["checkpoint"], output_vae=True, output_clip=True,
                                                                model_options=options)
    control_net = comfy.controlnet.load_controlnet(files["controlnet"], model_options=options)
    modules = load_motion_modules(comfy.utils.load_torch_file(files["motion_v2"]))
    return model, clip, vae, control_net, modules


def poses(frames, size):
    import torch

    from tcan_core.pose import render, retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE

    driving = retarget(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE))
    looped = [driving[i % len(driving)] for i in range(frames)]
    return torch.from_numpy(render(looped, size, size)).float().div_(255)


def sample(parts, frames, sizes, steps, observers=(), **options):
    import torch

    from tcan_core.comfy.load import load_tcan
    from tcan_core.comfy.long_video import sample_long_video

    model, clip, vae, control_net, modules = parts
    patched, bundle = load_tcan(model, control_net, modules)
    conditioning = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    reference = torch.rand(1, sizes["size"], sizes["size"], 3, generator=torch.Generator().manual_seed(0))
    out, loop = sample_long_video(
        patched, bundle, conditioning, conditioning, vae, reference, poses(frames, sizes["size"]), seed=0,
        steps=steps, cfg=sizes["cfg"], sampler_name="euler", scheduler="ddim_uniform", window_length=sizes["window"],
        overlap=sizes["overlap"], observers=observers, **options)
    return out["samples"], patched, bundle


def synchronize():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


# -- stages ----------------------------------------------------------------------------------------------

def environment(check):
    import comfy.model_management
    import torch
    from comfy.ldm.modules import attention

    info = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
            "device": str(comfy.model_management.get_torch_device()),
            "attention": attention.optimized_attention.__name__}
    try:
        import comfyui_version

        info["comfyui"] = comfyui_version.__version__
    except ImportError:
        info["comfyui"] = "unknown"
    if check.cuda:
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{props.name}, {props.total_memory / 2**30:.1f} GiB, compute {props.major}.{props.minor}"
        try:
            info["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                            capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            info["driver"] = "nvidia-smi not found"
    info["backends installed"] = ", ".join(installed_backends())
    return info


def installed_backends():
    from comfy.ldm.modules import attention

    names = ["attention_basic", "attention_split", "attention_sub_quad", "attention_pytorch"]
    for module, function in (("xformers", "attention_xformers"), ("sageattention", "attention_sage"),
                             ("flash_attn", "attention_flash")):
        try:
            __import__(module)
        except ImportError:
            continue
        if hasattr(attention, function):
            names.append(function)
    return names


class Timers:
    """Seconds spent in the UNet's windows, its appearance passes, the ControlNet and the VAE decode."""

    def __init__(self):
        self.seconds = {"UNet windows": 0.0, "appearance pass": 0.0, "ControlNet chunks": 0.0, "VAE decode": 0.0}

    def unet_wrapper(self):
        from tcan_core.comfy.window_context import is_reference_pass

        def wrapper(executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
            synchronize()
            began = time.perf_counter()
            out = executor(x, timesteps, context, y, control, transformer_options, **kwargs)
            synchronize()
            key = "appearance pass" if is_reference_pass(transformer_options) else "UNet windows"
            self.seconds[key] += time.perf_counter() - began
            return out
        return wrapper

    def controlnet_hooks(self, control_model):
        def before(*_):
            synchronize()
            self._control_start = time.perf_counter()

        def after(*_):
            synchronize()
            self.seconds["ControlNet chunks"] += time.perf_counter() - self._control_start
        return [control_model.register_forward_pre_hook(before), control_model.register_forward_hook(after)]


def speed(check):
    import comfy.model_management
    from comfy.patcher_extension import WrappersMP

    sizes = check.sizes
    parts = load_parts()
    timers = Timers()
    model = parts[0].clone()
    # the appearance pass re-enters the UNet inside the window's call: time the windows net of it
    model.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, "gpu_check", timers.unet_wrapper())
    parts = (model,) + parts[1:]
    hooks = timers.controlnet_hooks(parts[3].control_model)
    synchronize()
    began = time.perf_counter()
    samples, _, _ = sample(parts, sizes["frames"], sizes, sizes["steps"])
    synchronize()
    sampling = time.perf_counter() - began
    for hook in hooks:
        hook.remove()
    decode_began = time.perf_counter()
    parts[2].decode(samples)
    synchronize()
    timers.seconds["VAE decode"] = time.perf_counter() - decode_began
    timers.seconds["UNet windows"] -= timers.seconds["appearance pass"]
    per_step = sampling / sizes["steps"]
    frames = sizes["frames"]
    estimate = (per_step * 25 + timers.seconds["VAE decode"]) / frames
    comfy.model_management.unload_all_models()
    return {"setting": f"{sizes['size']}x{sizes['size']}, {frames} frames, windows {sizes['window']}/"
                       f"{sizes['overlap']}, cfg {sizes['cfg']}, {sizes['steps']} steps, {parts[0].model.get_dtype()}",
            "seconds per frame at 25 steps": round(estimate, 3),
            "seconds per step": round(per_step, 2),
            "split of the measured run (s)": {k: round(v, 2) for k, v in timers.seconds.items()},
            "other (sampler, window bookkeeping, transfers)": round(
                sampling - sum(v for k, v in timers.seconds.items() if k != "VAE decode"), 2)}


def flat_vram(check):
    import comfy.model_management
    import torch

    sizes = check.sizes
    parts = load_parts()
    peaks = {}
    for frames in (sizes["frames"], sizes["long_frames"]):
        comfy.model_management.unload_all_models()
        torch.cuda.reset_peak_memory_stats()
        _, patched, bundle = sample(parts, frames, sizes, 1)
        peaks[frames] = torch.cuda.max_memory_allocated()
    short, long = peaks[sizes["frames"]], peaks[sizes["long_frames"]]
    result = {f"peak at {f} frames (GiB)": round(p / 2**30, 3) for f, p in peaks.items()}
    result["ratio"] = round(long / short, 4)
    result["flat (ratio <= 1.05)"] = long / short <= 1.05
    result["peak <= 8 GB"] = max(short, long) <= 8e9
    if max(short, long) > 8e9:  # which part holds what
        weights = {"UNet": patched.model_size(), "motion modules and appearance (additional models)":
                   sum(m.model_size() for m in patched.get_additional_models()),
                   "ControlNet": sum(m.model_size() for m in bundle.controlnet.get_models())}
        result["held by weights (GiB)"] = {k: round(v / 2**30, 3) for k, v in weights.items()}
        result["activations and buffers (GiB)"] = round((max(short, long) - sum(weights.values())) / 2**30, 3)
    comfy.model_management.unload_all_models()
    return result


def cuda_correctness(check):
    import comfy.model_management
    import torch

    result = {"masked reference attention, max error vs the dense mask": masked_attention_errors()}
    sizes = dict(check.sizes, frames=check.sizes["window"])
    full = sample_one_window(load_parts(torch.float32), sizes)
    half = sample_one_window(load_parts(torch.float16), sizes)
    result["fp16 vs fp32 UNet, one window (max error / scale)"] = round(float((half - full).abs().max()
                                                                              / full.abs().max()), 5)
    comfy.model_management.unload_all_models()
    parts = load_parts()
    offloaded, _, _ = sample(parts, sizes["frames"] * 2, sizes, 1)
    on_gpu = parts[0].clone()
    on_gpu.offload_device = on_gpu.load_device  # the sampler's state stays on the GPU too
    everything_on_gpu, _, _ = sample((on_gpu,) + parts[1:], sizes["frames"] * 2, sizes, 1)
    result["latents on the CPU vs on the GPU (max error / scale)"] = round(float(
        (offloaded.cpu() - everything_on_gpu.cpu()).abs().max() / everything_on_gpu.abs().max()), 7)
    comfy.model_management.unload_all_models()
    return result


def sample_one_window(parts, sizes):
    """One model evaluation's cond prediction for one window (a one-step custom sampler)."""
    import comfy.samplers
    import torch

    captured = {}

    def capture(args):
        captured["cond"] = args["cond"].float().cpu()
        return args["cond"]

    def one_evaluation(model, x, sigmas, extra_args=None, callback=None, disable=None):
        model(x, sigmas[0] * x.new_ones([x.shape[0]]), **(extra_args or {}))
        return x

    model = parts[0].clone()
    model.set_model_sampler_cfg_function(capture, disable_cfg1_optimization=True)
    sample((model,) + parts[1:], sizes["frames"], sizes, 1, sampler=comfy.samplers.KSAMPLER(one_evaluation),
           sigmas=torch.tensor([5.0, 0.0]))
    return captured["cond"]


def masked_attention_errors():
    import torch
    from comfy.ldm.modules import attention

    from tcan_core.appearance.masking import BLOCKED, extra_key_permissions, masked_reference_attention

    gen = torch.Generator().manual_seed(0)
    b, lq, c, heads = 4, 256, 320, 8
    q, k, v = (torch.randn(b, n, c, generator=gen) for n in (lq, 3 * lq, 3 * lq))
    person_queries = torch.rand(b, lq, generator=gen) > 0.5
    person_tokens = torch.rand(b, 2, lq, generator=gen) > 0.4
    calibrated = torch.tensor([[False, True]] * b)
    person_keys, background_keys = extra_key_permissions(person_tokens, calibrated)
    # the dense mask of the public TPC code, one softmax per head, in fp32
    allowed = torch.ones(b, lq, 3 * lq, dtype=torch.bool)
    allowed[:, :, lq:] = torch.where(person_queries[..., None], person_keys[:, None], background_keys[:, None])
    d = c // heads
    split = [t.reshape(t.shape[0], t.shape[1], heads, d).transpose(1, 2) for t in (q, k, v)]
    logits = split[0] @ split[1].transpose(-1, -2) / math.sqrt(d) + torch.where(allowed, 0.0, BLOCKED)[:, None]
    expected = (logits.softmax(-1) @ split[2]).transpose(1, 2).reshape(b, lq, c)
    device = torch.device("cuda")
    errors = {}
    for backend in installed_backends():
        function = getattr(attention, backend)
        for dtype in (torch.float16, torch.bfloat16):
            def run(q, k, v, heads, mask, function=function):
                return function(q, k, v, heads, mask=mask)
            try:
                out = masked_reference_attention(*(t.to(device, dtype) for t in (q, k, v)), heads,
                                                 person_queries.to(device), person_keys.to(device),
                                                 background_keys.to(device), run)
                errors[f"{backend} {str(dtype).split('.')[-1]}"] = round(float((out.float().cpu() - expected)
                                                                               .abs().max()), 4)
            except Exception as error:  # a backend that refuses a mask or a dtype is a finding
                errors[f"{backend} {str(dtype).split('.')[-1]}"] = f"error: {type(error).__name__}: {error}"[:200]
    return errors


def tests_comfy(check):
    env = {**os.environ, "COMFYUI_PATH": os.path.abspath(check.args.comfyui),
           "TCAN_TEST_MODELS": os.path.abspath(check.args.models), "TCAN_TEST_DEVICE": "cuda"}
    timeout = max(30, int(check.left() - 10))
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *QUICK_TESTS], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=timeout)
        tail = (run.stdout + run.stderr).strip().splitlines()[-15:]
        return {"command": f"pytest {' '.join(QUICK_TESTS)}", "exit code": run.returncode, "tail": "\n".join(tail)}
    except subprocess.TimeoutExpired:
        return {"command": f"pytest {' '.join(QUICK_TESTS)}", "exit code": f"timed out after {timeout} s"}


ARGS = None


def main(argv=None):
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), required=not os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--models", default=os.environ.get("TCAN_TEST_MODELS"),
                        required=not os.environ.get("TCAN_TEST_MODELS"),
                        help="a folder laid out like ComfyUI/models; missing random files are built there")
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--budget-s", type=float, default=450.0, help="drop later stages when time runs short")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: check the script itself")
    ARGS = parser.parse_args(argv)
    check = Check(ARGS)
    try:
        start_comfyui(check)
    except Exception as error:  # without ComfyUI there is nothing to measure; say why in the summary
        check.results["setup"] = f"error: {type(error).__name__}: {error}"
        check.write()
        return 1
    check.stage("environment", lambda: environment(check))
    check.stage("speed", lambda: speed(check))
    check.stage("flat_vram", lambda: flat_vram(check), needs_cuda=True)
    check.stage("cuda_correctness", lambda: cuda_correctness(check), needs_cuda=True)
    check.stage("tests_comfy", lambda: tests_comfy(check), needs_cuda=True)
    print(markdown(check.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
