"""Per-frame results computed over non-overlapping chunks of frames, reused by overlapping windows.

TCAN runs its temporal ControlNet once per denoising step over non-overlapping chunks of the window
length ([0..15], [16..31], ...), caches the residuals per frame, and lets every UNet window take the
residuals of its own frame indices (windows overlap, straddle chunks and may wrap to the start).
Here a chunk is computed the first time a window needs one of its frames and kept while windows
still need it (a small LRU), so each chunk runs once per step and memory stays at a few chunks,
however long the video. The last chunk is shorter when the length is not a multiple of the chunk.

Results are dicts of lists of tensors (or None) whose first dimension is the chunk's frames, the
shape ComfyUI ControlNets return ({"input": [...], "middle": [...], "output": [...]}).
"""

from collections import OrderedDict

import torch


def chunk_ranges(num_frames, chunk_length):
    """[range(0, L), range(L, 2L), ..., range(kL, N)]: non-overlapping chunks covering all frames."""
    if num_frames < 1 or chunk_length < 1:
        raise ValueError(f"need at least one frame and a chunk length >= 1, got {num_frames}, {chunk_length}")
    return [range(start, min(start + chunk_length, num_frames)) for start in range(0, num_frames, chunk_length)]


def _runs(frames, chunk_length):
    """Frame indices -> [(chunk id, first offset, last offset + 1)] for consecutive runs within one chunk."""
    runs = []
    for f in frames:
        chunk, offset = divmod(f, chunk_length)
        if runs and runs[-1][0] == chunk and runs[-1][2] == offset:
            runs[-1][2] += 1
        else:
            runs.append([chunk, offset, offset + 1])
    return runs


class ChunkCache:
    """compute(frames: range) -> result for those frames; gather(indices) -> result for any indices."""

    def __init__(self, num_frames, chunk_length, compute, capacity=3):
        self.num_frames = num_frames
        self.chunk_length = chunk_length
        self.ranges = chunk_ranges(num_frames, chunk_length)
        self.compute = compute
        self.capacity = max(1, capacity)
        self.chunks = OrderedDict()
        self.evaluations = 0

    def _chunk(self, chunk_id):
        if chunk_id in self.chunks:
            self.chunks.move_to_end(chunk_id)
        else:
            self.chunks[chunk_id] = self.compute(self.ranges[chunk_id])
            self.evaluations += 1
            while len(self.chunks) > self.capacity:
                self.chunks.popitem(last=False)
        return self.chunks[chunk_id]

    def gather(self, frames):
        frames = [int(f) for f in frames]
        if not frames or min(frames) < 0 or max(frames) >= self.num_frames:
            raise ValueError(f"frame indices must lie in 0..{self.num_frames - 1}, got {frames[:4]}...")
        pieces = []
        for chunk_id, start, stop in _runs(frames, self.chunk_length):
            result = self._chunk(chunk_id)
            pieces.append({key: [None if t is None else t[start:stop] for t in values] for key, values in result.items()})
        return {key: [None if pieces[0][key][i] is None else torch.cat([p[key][i] for p in pieces])
                      for i in range(len(values))]
                for key, values in pieces[0].items()}
