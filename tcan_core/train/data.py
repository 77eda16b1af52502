"""The prepared dataset (see prepare.py): per-video latents and poses, sampled as TCAN trains.

Cache layout (written by `prepare`):
    manifest.json          size, latent scale, text embedding file, videos (train/val) and drops
    text.pt                CLIP("") [1, 77, C], the only prompt TCAN trains with
    latents/<video>.npy    float16 [F, 8, h, w]: VAE posterior mean (4) and std (4), times the scale
    poses/<video>.json     POSE_KEYPOINT on the cropped training canvas

Stage 1 item: a source and a target frame of one video, the target at circular distance >= 30
frames when the video allows it (tcan.md 16.4; shorter videos: any other frame, B19), both frames
with a person. Stage 2 item: 16 consecutive frames, reference = frame 0. Poses are rendered when an
item is read (OpenPose-18 drawing, hands as TCAN's training renders), so the cache stays small.
Which item, and which frames, depend only on (seed, epoch, index): resumable and worker-independent.
"""

import json
import os

import numpy as np
import torch

from ..pose.keypoints import frames_from_pose_keypoint
from ..pose.render import render

MANIFEST = "manifest.json"
MIN_DISTANCE = 30
CLIP_FRAMES = 16


class DatasetError(ValueError):
    """A cache or data folder that cannot be trained on."""


def read_manifest(cache):
    path = os.path.join(os.fspath(cache), MANIFEST)
    if not os.path.isfile(path):
        raise DatasetError(f"{cache} is not a prepared dataset (no {MANIFEST}); run `tcan-train prepare` first")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Video:
    def __init__(self, cache, entry):
        self.name = entry["name"]
        self.frames = entry["frames"]
        self.person = np.asarray(entry["has_person"], bool)
        self._latents_path = os.path.join(cache, entry["latents"])
        self._poses_path = os.path.join(cache, entry["poses"])
        self._latents = self._poses = None

    @property
    def latents(self):  # memory-mapped: workers share the page cache, nothing is copied up front
        if self._latents is None:
            self._latents = np.load(self._latents_path, mmap_mode="r")
        return self._latents

    def poses(self, frames):
        if self._poses is None:
            with open(self._poses_path, encoding="utf-8") as f:
                self._poses = frames_from_pose_keypoint(json.load(f))
        return [self._poses[i] for i in frames]

    def mean_std(self, frames):
        x = torch.from_numpy(np.ascontiguousarray(self.latents[frames])).float()
        return x[:, :4], x[:, 4:]


class CachedDataset(torch.utils.data.Dataset):
    """Items of one split; `__getitem__` takes (index, epoch) from `StepSampler`."""

    def __init__(self, cache, split="train", *, seed=0, hands=True, min_frames=2):
        self.cache = os.fspath(cache)
        self.manifest = read_manifest(cache)
        self.width, self.height = self.manifest["size"]
        self.seed, self.hands = seed, hands
        self.videos = [Video(self.cache, e) for e in self.manifest["videos"]
                       if e["split"] == split and e["frames"] >= min_frames and any(e["has_person"])]
        self.skipped = [e["name"] for e in self.manifest["videos"]
                        if e["split"] == split and (e["frames"] < min_frames or not any(e["has_person"]))]

    def __len__(self):
        return len(self.videos)

    def text_embedding(self):
        return torch.load(os.path.join(self.cache, self.manifest["text"]), map_location="cpu", weights_only=True)

    def rng(self, index, epoch):
        return np.random.default_rng([self.seed, epoch + 1, index])  # epoch -1: validation

    def pose_images(self, video, frames):
        images = render(video.poses(frames), self.width, self.height, hands=self.hands)
        return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0  # RGB in [0, 1]


def target_frame(frames, source, rng, candidates):
    """A target for `source`: circular distance >= 30 when the video is long enough, else any other."""
    m = min(MIN_DISTANCE, frames)
    distance = np.minimum((candidates - source) % frames, (source - candidates) % frames)
    far = candidates[distance >= m] if frames >= 2 * m else candidates[candidates != source]
    pool = far if len(far) else candidates[candidates != source]
    return int(rng.choice(pool)) if len(pool) else source


class PairDataset(CachedDataset):
    """Stage 1: (reference = source latent mean, target mean/std, target pose)."""

    def __getitem__(self, item):
        index, epoch = item
        video, rng = self.videos[index], self.rng(index, epoch)
        with_person = np.flatnonzero(video.person)
        source = int(rng.choice(with_person))
        target = target_frame(video.frames, source, rng, with_person)
        mean, std = video.mean_std([source, target])
        return {"index": index, "reference": mean[0], "target_mean": mean[1], "target_std": std[1],
                "pose": self.pose_images(video, [target])[0]}


class ClipDataset(CachedDataset):
    """Stage 2: 16 consecutive frames (mean/std, poses) and the video's first frame as reference."""

    def __init__(self, cache, split="train", *, frames=CLIP_FRAMES, **options):
        super().__init__(cache, split, min_frames=frames, **options)
        self.clip = frames

    def __getitem__(self, item):
        index, epoch = item
        video, rng = self.videos[index], self.rng(index, epoch)
        start = int(rng.integers(0, video.frames - self.clip + 1))
        frames = list(range(start, start + self.clip))
        mean, std = video.mean_std(frames)
        reference, _ = video.mean_std([0])
        return {"index": index, "reference": reference[0], "clip_mean": mean, "clip_std": std,
                "pose": self.pose_images(video, frames)}


class StepSampler(torch.utils.data.Sampler):
    """Batches of (index, epoch) for one process, from micro-step `start` on, forever.

    Each epoch is a permutation seeded by (seed, epoch); global batch k of an epoch is items
    [k*B*W, (k+1)*B*W) and process r takes its r-th slice of B (a DistributedSampler with
    set_epoch, made resumable by position). Fewer items than one global batch repeat cyclically.
    """

    def __init__(self, size, batch_size, *, world=1, rank=0, seed=0, start=0):
        if size < 1:
            raise DatasetError("no training items (all videos dropped or too short for this stage)")
        self.size, self.batch, self.world, self.rank, self.seed, self.start = size, batch_size, world, rank, seed, start
        self.per_epoch = max(1, size // (batch_size * world))

    def global_batch(self, micro_step):
        epoch, k = divmod(micro_step, self.per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
        order = np.resize(order, max(self.size, self.batch * self.world))
        chunk = order[k * self.batch * self.world:(k + 1) * self.batch * self.world]
        return epoch, chunk

    def __iter__(self):
        step = self.start
        while True:
            epoch, chunk = self.global_batch(step)
            yield [(int(i), epoch) for i in chunk[self.rank * self.batch:(self.rank + 1) * self.batch]]
            step += 1

    def __len__(self):  # the loader needs a length; training stops by step count
        return 2 ** 62


def validation_items(dataset, count=None):
    """Fixed (index, epoch -1) items of the held-out split: the same frames every evaluation."""
    return [(i, -1) for i in range(len(dataset) if count is None else min(count, len(dataset)))]


def collate(items):
    return {key: (torch.tensor([it[key] for it in items]) if key == "index" else torch.stack([it[key] for it in items]))
            for key in items[0]}
