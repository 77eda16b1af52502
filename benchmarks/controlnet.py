"""ControlNet evaluations per denoising step: TCAN's chunked caching vs one evaluation per window.

    python benchmarks/controlnet.py

Counts frames pushed through the ControlNet per step for TCAN's schedule (windows of 16, overlap 4,
closed loop) when every window runs its own ControlNet pass, and when the ControlNet runs over
non-overlapping chunks cached per frame (tcan_core.temporal.chunk_cache, as the Temporal ControlNet
does). The ratio is machine independent; expected about 1 / (1 - overlap / length) = 1.33.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tcan_core.temporal.chunk_cache import ChunkCache  # noqa: E402
from tcan_core.temporal.windows import sliding_windows  # noqa: E402


def frames_evaluated(num_frames, length=16, overlap=4, closed_loop=True, capacity=2):
    windows = sliding_windows(num_frames, length, overlap, closed_loop)
    evaluated = []
    cache = ChunkCache(num_frames, length, lambda frames: evaluated.append(len(frames)) or {"output": []},
                       capacity=capacity)
    for window in windows:
        cache.gather(window)
    return sum(len(w) for w in windows), sum(evaluated)


def main():
    print("frames   per-window ControlNet   chunked+cached   ratio")
    for n in (16, 32, 64, 100, 256, 1000):
        per_window, chunked = frames_evaluated(n)
        print(f"{n:6d}   {per_window:20d}   {chunked:14d}   {per_window / chunked:5.2f}x")
    per_window, chunked = frames_evaluated(1000, closed_loop=False)
    print(f"  1000 (open schedule)  {per_window:10d}   {chunked:14d}   {per_window / chunked:5.2f}x")


if __name__ == "__main__":
    main()
