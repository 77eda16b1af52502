"""Pose toolkit speed: retarget and render 1,000 frames at 512x512 on one CPU core.

    python benchmarks/pose.py [--frames 1000] [--repeats 3]

Prints frames per second and, as the machine-independent figure, the ratio against the plain
transcriptions of the official code used as test oracles (tests/unit/official_*.py), timed in
the same run. Also prints how far the result is from the official algorithm with and without its
int64 truncation (pixels).
"""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from tcan_core.pose import render, retarget_frames  # noqa: E402
from tcan_core.pose.keypoints import frames_from_pose_keypoint  # noqa: E402
from tcan_core.pose.pose_json import load_pose_json  # noqa: E402
from timing import best_of, cpu_benchmark_arguments  # noqa: E402
from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE  # noqa: E402
from tests.unit.official_render import render_official  # noqa: E402
from tests.unit.official_retarget import official_retarget  # noqa: E402


def body_arrays(pose):
    frames = frames_from_pose_keypoint(pose)
    return [f.people[0].body for f in frames]


def main():
    args = cpu_benchmark_arguments()

    reference = load_pose_json(REFERENCE_POSE)
    sample = load_pose_json(DRIVING_POSE)
    driving = (sample * (args.frames // len(sample) + 1))[:args.frames]
    n = len(driving)

    t_ours, result = best_of(args.repeats, lambda: retarget_frames(reference, driving))
    out = np.zeros((n, 512, 512, 3), np.uint8)

    def render_ours():
        out[:] = 0
        return render(result.frames, 512, 512, out=out)
    t_render, _ = best_of(args.repeats, render_ours)

    # Baselines: the official algorithms as plain loops (one frame at a time), on the same data.
    ref_body = frames_from_pose_keypoint(reference)[0].people[0].body
    drv = body_arrays(driving)
    fully_visible = [t for t, b in enumerate(drv) if (b[:, 2] > 0).all()]
    ones = np.arange(18)
    t_official, official = best_of(1, lambda: [
        official_retarget(drv[t][:, :2], drv[0][:, :2], ref_body[:, :2], ones, ones, truncate=True)
        for t in fully_visible])
    t_official *= n / max(1, len(fully_visible))
    t_render_official, _ = best_of(1, lambda: [render_official(f, 512, 512) for f in result.frames])

    ours = np.array([np.asarray(result.frames[t]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)[:, :2]
                     for t in fully_visible])
    exact = np.array([official_retarget(drv[t][:, :2], drv[0][:, :2], ref_body[:, :2], ones, ones, truncate=False)
                      for t in fully_visible])
    err_exact = np.linalg.norm(ours - exact, axis=-1)
    err_trunc = np.linalg.norm(ours - np.array(official), axis=-1)

    print(f"frames: {n} (bundled 100-frame sample repeated), one core, best of {args.repeats}")
    print(f"retarget: {n / t_ours:9.0f} frames/s   ({n / t_official:8.0f} frames/s official loop; "
          f"ratio {t_official / t_ours:.1f}x)")
    print(f"render  : {n / t_render:9.0f} frames/s at 512x512   ({n / t_render_official:8.0f} frames/s "
          f"draw_bodypose; ratio {t_render_official / t_render:.2f}x)")
    print(f"parity  : {len(fully_visible)} fully visible frames; vs official without truncation max "
          f"{err_exact.max():.4f} px; vs official with int64 truncation mean {err_trunc.mean():.2f} px, "
          f"max {err_trunc.max():.2f} px")


if __name__ == "__main__":
    main()
