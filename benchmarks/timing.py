"""Timing helpers shared by the CPU benchmarks."""

import time


def best_of(repeats, fn):
    """(fastest wall time of `repeats` calls, the last result)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def cpu_benchmark_arguments(description=None):
    """--frames / --repeats, parsed; the process is then pinned to one CPU core (OpenCV single-threaded)."""
    import argparse
    import os

    import cv2

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    return args
