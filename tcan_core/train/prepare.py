"""`tcan-train prepare`: check every video against its poses and cache VAE latents once.

Data folder: each video is an .mp4 (or other OpenCV-readable file) or a folder of frame images,
with its poses beside it as `<name>.json` (controlnet_aux POSE_KEYPOINT, one entry per frame, e.g.
from Save Pose JSON after the DWPose Estimator). A video is dropped, with the reason printed, when it
cannot be read, its pose file is missing or unreadable, frame and pose counts differ, the pose canvas has another
aspect ratio than the frames, or no frame shows a person.

Frames are scaled to cover the training size and centre-cropped (the aspect ratio is kept, not
stretched as tcan.md B13); poses get the same transform. The cache holds the VAE posterior mean
and std per frame (times the latent scale): references use the mean, targets draw a fresh sample
each step (tcan.md 16.13), without re-encoding.
"""

import json
import os
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..pose.keypoints import frames_from_pose_keypoint, frames_to_pose_keypoint
from ..pose.pose_json import load_pose_json, natural_key
from .data import MANIFEST

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
ASPECT_TOLERANCE = 0.02


@dataclass
class Source:
    name: str
    video: str  # file or frame folder
    poses: str | None


def find_videos(data):
    """-> [Source] for every video file or frame folder in `data` (sorted by name)."""
    data = os.fspath(data)
    if not os.path.isdir(data):
        raise FileNotFoundError(f"data folder not found: {data}")
    sources = []
    for entry in sorted(os.listdir(data), key=natural_key):
        path = os.path.join(data, entry)
        stem, suffix = os.path.splitext(entry)
        if os.path.isdir(path):
            name = entry
        elif os.path.isfile(path) and suffix.lower() in VIDEO_SUFFIXES:
            name = stem
        else:
            continue
        poses = os.path.join(data, name + ".json")
        sources.append(Source(name, path, poses if os.path.isfile(poses) else None))
    return sources


def read_frames(path):
    """RGB uint8 frames [H, W, 3] of a video file or a frame folder, one at a time."""
    if os.path.isdir(path):
        files = sorted((f for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES)), key=natural_key)
        for f in files:
            image = cv2.imread(os.path.join(path, f), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"unreadable image {f}")
            yield image[..., ::-1]
        return
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ValueError("OpenCV cannot open the video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield frame[..., ::-1]  # OpenCV decodes to BGR
    finally:
        capture.release()


def cover_crop(width, height, out_w, out_h):
    """Scale that covers out_w x out_h and the crop offsets: -> (scale, left, top)."""
    scale = max(out_w / width, out_h / height)
    return scale, (round(width * scale) - out_w) // 2, (round(height * scale) - out_h) // 2


def crop_frame(frame, out_w, out_h):
    h, w = frame.shape[:2]
    scale, left, top = cover_crop(w, h, out_w, out_h)
    resized = cv2.resize(np.ascontiguousarray(frame), (round(w * scale), round(h * scale)),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    return resized[top:top + out_h, left:left + out_w]


def crop_poses(frames, video_w, video_h, out_w, out_h):
    """Pose frames (any canvas of the video's aspect) -> the same crop as the frames, canvas out_w x out_h."""
    scale, left, top = cover_crop(video_w, video_h, out_w, out_h)
    out = []
    for frame in frames:
        sx, sy = video_w / frame.width * scale, video_h / frame.height * scale
        for person in frame.people:
            for _, part in person.parts():
                seen = part[:, 2] > 0
                part[seen, 0] = part[seen, 0] * sx - left
                part[seen, 1] = part[seen, 1] * sy - top
        frame.width, frame.height = out_w, out_h
        out.append(frame)
    return out


def has_person(frame):
    return any((person.body[:, 2] > 0).sum() >= 2 for person in frame.people)


def check(source, frame_count, video_w, video_h):
    """-> (pose frames, None) or (None, reason)."""
    if source.poses is None:
        return None, f"no pose file {source.name}.json beside it"
    try:
        frames = frames_from_pose_keypoint(load_pose_json(source.poses))
    except ValueError as error:
        return None, f"unreadable poses: {error}"
    if len(frames) != frame_count:
        return None, f"{frame_count} frames but {len(frames)} pose frames"
    canvas = frames[0].width / frames[0].height
    if abs(canvas / (video_w / video_h) - 1) > ASPECT_TOLERANCE:
        return None, (f"pose canvas {frames[0].width}x{frames[0].height} has another aspect ratio than the "
                      f"{video_w}x{video_h} frames (poses of another video?)")
    if not any(has_person(f) for f in frames):
        return None, "no frame shows a person"
    return frames, None


@torch.no_grad()
def encode(vae, frames, batch, device, dtype):
    """uint8 [F, H, W, 3] -> float16 [F, 8, h, w]: posterior mean and std, times the latent scale."""
    scale = vae.config.scaling_factor
    out = []
    for i in range(0, len(frames), batch):
        x = torch.from_numpy(np.stack(frames[i:i + batch])).to(device).permute(0, 3, 1, 2)
        x = x.to(dtype) / 127.5 - 1.0
        dist = vae.encode(x).latent_dist
        out.append((torch.cat([dist.mean, dist.std], 1).float() * scale).half().cpu())
    return torch.cat(out).numpy()


def prepare(data, cache, vae, text_embedding, *, size=(512, 512), val_videos=None, batch=8, device="cpu",
            dtype=torch.float32, log=print):
    """Check, crop and encode every video of `data` into `cache`; -> summary dict (also in the manifest)."""
    out_w, out_h = size
    if out_w % 8 or out_h % 8:
        raise ValueError(f"the training size must be a multiple of 8, got {out_w}x{out_h}")
    cache = os.fspath(cache)
    os.makedirs(os.path.join(cache, "latents"), exist_ok=True)
    os.makedirs(os.path.join(cache, "poses"), exist_ok=True)
    vae = vae.to(device).eval()
    if dtype != torch.float32:
        vae = vae.to(dtype)
    sources = find_videos(data)
    if not sources:
        raise ValueError(f"{data} holds no videos (.mp4 files or frame folders, each with <name>.json poses)")
    kept, dropped, frames_done, seconds = [], [], 0, 0.0
    for source in sources:
        started = time.perf_counter()
        try:
            raw = list(read_frames(source.video))
        except ValueError as error:
            dropped.append({"name": source.name, "reason": f"unreadable video: {error}"})
            log(f"dropped {source.name}: {dropped[-1]['reason']}")
            continue
        if len(raw) < 2:
            dropped.append({"name": source.name, "reason": f"{len(raw)} frame(s); at least 2 needed"})
            log(f"dropped {source.name}: {dropped[-1]['reason']}")
            continue
        video_h, video_w = raw[0].shape[:2]
        poses, reason = check(source, len(raw), video_w, video_h)
        if reason:
            dropped.append({"name": source.name, "reason": reason})
            log(f"dropped {source.name}: {reason}")
            continue
        cropped = [crop_frame(f, out_w, out_h) for f in raw]
        del raw
        latents = encode(vae, cropped, batch, device, dtype)
        poses = crop_poses(poses, video_w, video_h, out_w, out_h)
        np.save(os.path.join(cache, "latents", source.name + ".npy"), latents)
        with open(os.path.join(cache, "poses", source.name + ".json"), "w", encoding="utf-8") as f:
            json.dump(frames_to_pose_keypoint(poses), f)
        person = [has_person(f) for f in poses]
        kept.append({"name": source.name, "frames": len(cropped), "has_person": person,
                     "latents": f"latents/{source.name}.npy", "poses": f"poses/{source.name}.json"})
        frames_done += len(cropped)
        seconds += time.perf_counter() - started
        empty = person.count(False)
        log(f"kept {source.name}: {len(cropped)} frames" + (f" ({empty} without a person)" if empty else ""))
    if not kept:
        raise ValueError(f"every video in {data} was dropped; see the reasons above")
    if val_videos is None:
        val_videos = 1 if len(kept) >= 3 else 0
    if val_videos >= len(kept):
        raise ValueError(f"--val-videos {val_videos} leaves no training video ({len(kept)} kept)")
    for i, entry in enumerate(kept):  # the last videos (by name) are held out
        entry["split"] = "val" if i >= len(kept) - val_videos else "train"
    torch.save(text_embedding.float().cpu(), os.path.join(cache, "text.pt"))
    summary = {"videos": len(kept), "dropped": len(dropped), "frames": frames_done,
               "frames_per_second": frames_done / seconds if seconds else 0.0}
    manifest = {"version": 1, "size": [out_w, out_h], "latent_scale": float(vae.config.scaling_factor),
                "text": "text.pt", "videos": kept, "dropped": dropped, "summary": summary}
    with open(os.path.join(cache, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    log(f"prepared {len(kept)} videos ({val_videos} held out for validation), dropped {len(dropped)}; "
        f"{frames_done} frames at {summary['frames_per_second']:.1f} frames/s -> {cache}")
    return summary
