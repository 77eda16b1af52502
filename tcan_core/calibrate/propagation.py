"""Iterative Propagation groups (TPC section 4.2, Appendix A.1 Algorithm 1).

At every denoising step the sampler splits the calibrated frames into M groups of consecutive
frames and lets each group use one randomly drawn member's calibrated features, so the calibrated
reference changes smoothly through the video and every member gets its turn over the steps.
M is a number of groups (paper default 30, the best of 20/30/40 in its Table 2), not a group size.

Where Algorithm 1 is undefined or uneven this port does the following: groups are on absolute
frame indices and their sizes differ by at most one (the paper's m = floor(L/M) leaves the last
L mod M frames out of every draw); with fewer frames than M each frame is its own group.
"""

from dataclasses import dataclass

import numpy as np

DEFAULT_GROUPS = 30


@dataclass(frozen=True)
class PropagationGroups:
    """M groups of consecutive frames: group g holds frames bounds[g] .. bounds[g + 1] - 1."""

    bounds: tuple

    @classmethod
    def split(cls, num_frames, num_groups=DEFAULT_GROUPS):
        num_frames, num_groups = int(num_frames), int(num_groups)
        if num_frames < 1:
            raise ValueError(f"propagation groups need at least one frame, got {num_frames}")
        if num_groups < 1:
            raise ValueError(f"the number of propagation groups M must be at least 1, got {num_groups}")
        groups = min(num_groups, num_frames)
        return cls(tuple(int(b) for b in (np.arange(groups + 1) * num_frames) // groups))

    @property
    def num_groups(self):
        return len(self.bounds) - 1

    @property
    def num_frames(self):
        return self.bounds[-1]

    def group_of(self):
        """int [L]: the group of every frame."""
        return np.repeat(np.arange(self.num_groups), np.diff(self.bounds))

    def draw(self, rng):
        """One step's propagation: (members [M], source [L]).

        members[g] is the frame whose calibrated features group g uses this step (one uniform draw
        per group); source[i] = members[group of frame i]. rng: a numpy Generator or an int seed.
        Draw once per denoising step and share the result across all windows of that step."""
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        starts = np.asarray(self.bounds[:-1])
        sizes = np.diff(self.bounds)
        members = starts + rng.integers(0, sizes)
        return members, members[self.group_of()]

    def evaluation_members(self, seed, evaluation):
        """The members drawn at one model evaluation of a run: seeded by (run seed, evaluation index), so
        every window of the evaluation shares the draw and a run is reproducible."""
        members, _ = self.draw(np.random.default_rng([int(seed), int(evaluation)]))
        return members

    def slots(self, frames=None):
        """int [len(frames), 2]: per frame (absolute index into the groups' frames; default all), the images
        it attends to among [reference, one calibrated image per group]: 0 and 1 + its group."""
        group_of = self.group_of()
        group_of = group_of if frames is None else group_of[np.asarray(frames, dtype=int)]
        return np.stack([np.zeros_like(group_of), 1 + group_of], axis=1)
