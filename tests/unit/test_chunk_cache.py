"""Chunk / cache / index bookkeeping of the temporal ControlNet residuals."""

import pytest
import torch

from tcan_core.temporal.chunk_cache import ChunkCache, chunk_ranges


def fake_compute(calls):
    """A 'ControlNet' whose residual for frame f is f (so gathered values name their frames),
    and whose result depends on the whole chunk (the chunk's first frame is added in 'middle')."""
    def compute(frames):
        calls.append(frames)
        ids = torch.tensor(list(frames), dtype=torch.float32)
        return {"output": [ids[:, None] * 1.0, None, ids[:, None] * 10.0], "middle": [ids[:, None] + 1000 * frames.start]}
    return compute


def test_chunk_ranges_cover_all_frames_without_overlap():
    assert chunk_ranges(32, 16) == [range(0, 16), range(16, 32)]
    assert chunk_ranges(37, 16) == [range(0, 16), range(16, 32), range(32, 37)]
    assert chunk_ranges(5, 16) == [range(0, 5)]
    with pytest.raises(ValueError):
        chunk_ranges(0, 16)


@pytest.mark.parametrize("window", [list(range(0, 16)), list(range(12, 28)), list(range(24, 37)) + [0, 1, 2],
                                    [36, 0, 1], [5]])
def test_gather_returns_each_frame_s_own_residual(window):
    calls = []
    cache = ChunkCache(37, 16, fake_compute(calls))
    out = cache.gather(window)
    assert out["output"][0][:, 0].tolist() == [float(f) for f in window]
    assert out["output"][1] is None
    assert out["output"][2][:, 0].tolist() == [10.0 * f for f in window]
    # residuals come from the frame's own chunk, never from a chunk built around the window
    assert out["middle"][0][:, 0].tolist() == [f + 1000 * (16 * (f // 16)) for f in window]


def test_each_chunk_is_computed_once_per_step_over_a_sweep_of_windows():
    calls = []
    cache = ChunkCache(64, 16, fake_compute(calls))
    windows = [[(s + k) % 64 for k in range(16)] for s in range(0, 64, 12)]  # TCAN: stride 12, closed loop
    for w in windows:
        cache.gather(w)
    assert cache.evaluations == len(calls) == 5  # 4 chunks + chunk 0 again for the wrapped last window
    assert len(windows) * 2 - 1 >= cache.evaluations


def test_capacity_bounds_memory_and_bad_indices_raise():
    calls = []
    cache = ChunkCache(100, 10, fake_compute(calls), capacity=2)
    for start in range(0, 100, 10):
        cache.gather(range(start, start + 10))
    assert len(cache.chunks) == 2
    with pytest.raises(ValueError, match="0..99"):
        cache.gather([100])
