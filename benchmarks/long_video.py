"""Sample Long Video: memory and work versus clip length, as ratios within one run.

    python benchmarks/long_video.py --comfyui /path/to/ComfyUI --models /path/to/models [--short 64 --long 256]

Runs zero-shot TCAN (Load TCAN + Sample Long Video, 1 step, 64x64 images) on the bundled poses
looped to the clip length, with random-weight SD1.5-shaped models (see tests/comfy/README.md).
Reports, for the short and the long clip:
- peak compute-device memory (CUDA: torch.cuda.max_memory_allocated; CPU: the largest per-window
  input the window loop hands to the model), and long/short (target <= 1.05);
- UNet frame-evaluations per step divided by frames (expect about length / (length - overlap));
- peak host memory growth per extra frame, relative to one latent plus one pose image: each run's
  peak resident memory (sampled every 2 ms by a thread) above the resident memory before it, the
  inputs' creation included; the process-wide ru_maxrss would hide runs below an earlier peak.
  The script re-runs itself with glibc's mmap threshold fixed at 64 KiB, so freed tensors go back
  to the OS and resident memory follows live memory (otherwise allocator reuse is ~50 MiB of noise).
"""

import argparse
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakResident:
    """Peak resident memory above the value at entry, sampled by a thread while the block runs."""

    def __enter__(self):
        self.start = self.peak = resident_bytes()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, resident_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, resident_bytes())
        self.growth = self.peak - self.start


STEADY_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "65536"}


def main():
    if any(os.environ.get(k) != v for k, v in STEADY_MALLOC.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STEADY_MALLOC})
    parser = argparse.ArgumentParser()
    parser.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), required=not os.environ.get("COMFYUI_PATH"))
    parser.add_argument("--models", default=os.environ.get("TCAN_TEST_MODELS"), required=not os.environ.get("TCAN_TEST_MODELS"))
    parser.add_argument("--short", type=int, default=64)
    parser.add_argument("--long", type=int, default=256)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    sys.path[:0] = [ROOT, os.path.abspath(args.comfyui)]
    import comfy.options

    comfy.options.enable_args_parsing(False)
    import comfy.cli_args
    import torch

    comfy.cli_args.args.cpu = not torch.cuda.is_available()
    import comfy.controlnet
    import comfy.model_management
    import comfy.sd
    import comfy.utils

    from tcan_core.comfy.load import load_tcan
    from tcan_core.comfy.long_video import sample_long_video
    from tcan_core.pose import render, retarget
    from tcan_core.pose.pose_json import load_pose_json
    from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE
    from tcan_core.comfy.window_loop import WindowStats
    from tcan_core.temporal import load_motion_modules

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(
        os.path.join(args.models, "checkpoints/sd15_random.safetensors"), output_vae=True, output_clip=True)
    control_net = comfy.controlnet.load_controlnet(os.path.join(args.models, "controlnet/openpose_random.safetensors"))
    modules = load_motion_modules(comfy.utils.load_torch_file(
        os.path.join(args.models, "animatediff_models/mm_sd_v15_v2_random.ckpt")))
    patched, bundle = load_tcan(model, control_net, modules)
    conditioning = clip.encode_from_tokens_scheduled(clip.tokenize(""))
    driving = retarget(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE))
    reference = torch.rand(1, args.size, args.size, 3)
    cuda = torch.cuda.is_available()

    def run(frames):
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        with PeakResident() as host:
            poses = [driving[i % len(driving)] for i in range(frames)]
            pose_images = torch.from_numpy(render(poses, args.size, args.size)).float().div_(255)
            stats = WindowStats()
            out, loop = sample_long_video(patched, bundle, conditioning, conditioning, vae, reference,
                                          pose_images, seed=0, steps=1, cfg=2.0, sampler_name="euler",
                                          scheduler="ddim_uniform", observers=[stats])
            del out, pose_images
        device_peak = torch.cuda.max_memory_allocated() if cuda else stats.peak_window_bytes
        per_step = stats.frame_evaluations / loop.evaluations / 2  # per cond chunk
        return device_peak, per_step / frames, host.growth

    run(args.short)  # warm-up: first-call allocations and caches are not per-frame costs
    short, long = run(args.short), run(args.long)
    latent_bytes = 4 * (args.size // 8) ** 2 * 4
    pose_bytes = args.size * args.size * 3 * 4
    print(f"device: {'cuda' if cuda else 'cpu'}; {args.size}x{args.size}, windows 16 / overlap 4, 1 step")
    print(f"peak compute-device memory: {short[0] / 2**20:.2f} MiB at {args.short} frames, {long[0] / 2**20:.2f} MiB at "
          f"{args.long} frames; ratio {long[0] / short[0]:.3f}"
          + ("" if cuda else " (CPU: largest per-window input moved to the model)"))
    print(f"UNet frame-evaluations per step / frames: {short[1]:.3f} ({args.short}), {long[1]:.3f} ({args.long}); "
          f"length / (length - overlap) = {16 / 12:.3f}")
    growth = (long[2] - short[2]) / (args.long - args.short)
    print(f"peak host memory growth per extra frame: {growth / 1024:.1f} KiB = "
          f"{growth / (latent_bytes + pose_bytes):.1f} x (one latent + one pose image = "
          f"{(latent_bytes + pose_bytes) / 1024:.1f} KiB)")


if __name__ == "__main__":
    main()
