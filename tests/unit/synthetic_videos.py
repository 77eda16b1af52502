"""A small synthetic training set: the bundled sample dance rendered on simple moving figures.

Each video takes a stretch of tcan_core/samples/driving_pose.json (512x512 canvas), draws the
person as thick coloured limbs on a plain background at a smaller size, and writes the frames (a
frame folder, or an mp4) with the stretch's poses as `<name>.json`, as a user's data folder holds
them. `broken=True` adds the cases `prepare` must drop.
"""

import json
import os

import cv2
import numpy as np

from tcan_core.pose.keypoints import frames_from_pose_keypoint, frames_to_pose_keypoint
from tcan_core.pose.skeleton import LIMBS
from tcan_core.samples import DRIVING_POSE
from tcan_core.video import write_mp4


def figure_frames(poses, width, height, colour, background):
    """uint8 [F, H, W, 3]: the body as thick limbs in `colour` on `background`."""
    out = np.empty((len(poses), height, width, 3), np.uint8)
    for i, frame in enumerate(poses):
        image = np.full((height, width, 3), background, np.uint8)
        sx, sy = width / frame.width, height / frame.height
        for person in frame.people:
            body = person.body
            for a, b in LIMBS:
                if body[a, 2] > 0 and body[b, 2] > 0:
                    p = (int(body[a, 0] * sx), int(body[a, 1] * sy))
                    q = (int(body[b, 0] * sx), int(body[b, 1] * sy))
                    cv2.line(image, p, q, colour, thickness=max(2, width // 24))
        out[i] = image
    return out


def write_dataset(folder, videos=4, frames=40, size=(64, 64), broken=False, mp4=True):
    """-> list of the video names written (good ones); poses stay on the 512x512 sample canvas."""
    with open(DRIVING_POSE, encoding="utf-8") as f:
        sample = json.load(f)
    os.makedirs(folder, exist_ok=True)
    names = []
    for v in range(videos):
        start = (v * 13) % (len(sample) - frames)
        poses = sample[start:start + frames]
        colour = tuple(int(c) for c in np.random.default_rng(v).integers(60, 255, 3))
        images = figure_frames(frames_from_pose_keypoint(poses), *size, colour, background=(20 * v, 30, 40))
        name = f"video{v:02d}"
        if mp4 and v == 0:
            write_mp4(os.path.join(folder, name + ".mp4"), images, 25)
        else:
            os.makedirs(os.path.join(folder, name), exist_ok=True)
            for i, image in enumerate(images):
                cv2.imwrite(os.path.join(folder, name, f"{i:04d}.png"), image[..., ::-1])
        with open(os.path.join(folder, name + ".json"), "w", encoding="utf-8") as f:
            json.dump(poses, f)
        names.append(name)
    if broken:
        _broken(folder, sample, size)
    return names


def _broken(folder, sample, size):
    poses = frames_from_pose_keypoint(sample[:20])
    images = figure_frames(poses, *size, (200, 200, 200), (0, 0, 0))

    def frames_folder(name, count):
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for i in range(count):
            cv2.imwrite(os.path.join(folder, name, f"{i:04d}.png"), images[i])

    frames_folder("bad_count", 20)  # 19 pose frames for 20 images
    with open(os.path.join(folder, "bad_count.json"), "w", encoding="utf-8") as f:
        json.dump(sample[:19], f)
    frames_folder("no_poses", 20)  # no JSON beside it
    frames_folder("nobody", 20)  # poses without people
    with open(os.path.join(folder, "nobody.json"), "w", encoding="utf-8") as f:
        json.dump([{"people": [], "canvas_width": 512, "canvas_height": 512}] * 20, f)
    frames_folder("portrait_poses", 20)  # poses of a 9:16 video for square frames
    tall = frames_from_pose_keypoint(sample[:20])
    for frame in tall:
        frame.height = 910
    with open(os.path.join(folder, "portrait_poses.json"), "w", encoding="utf-8") as f:
        json.dump(frames_to_pose_keypoint(tall), f)
