"""The pose pipeline end to end without ComfyUI and without model weights.

    python -m tcan_core.demo [--out tcan_output] [--reference-pose FILE] [--driving-pose FILE]

Retargets the driving pose sequence (default: the bundled sample) onto the reference person
(default: the bundled sample), renders it as OpenPose images, and writes:
    retargeted_pose.json   POSE_KEYPOINT, loadable with Load Pose JSON
    retargeted_pose.mp4    the pose video a pose ControlNet takes
    preview.mp4            reference image with its pose | driving pose | retargeted pose
"""

import argparse
import os
import sys

import cv2
import numpy as np

from .pose import render, retarget_frames
from .pose.pose_json import load_pose_json, save_pose_json
from .samples import DRIVING_POSE, FPS, REFERENCE_IMAGE, REFERENCE_POSE
from .video import write_mp4


def _fit_height(images, height):
    frames, h, w = images.shape[:3]
    width = max(2, round(w * height / h))
    return np.stack([cv2.resize(im, (width, height), interpolation=cv2.INTER_AREA) for im in images])


def preview_frames(reference_image, reference_pose, driving, retargeted, height=256):
    """Side by side: the reference image with its pose drawn over it, the driving pose, the result."""
    ref_h, ref_w = reference_image.shape[:2]
    overlay = np.maximum(reference_image // 2, render(reference_pose, ref_w, ref_h)[0])
    left = _fit_height(overlay[None], height)
    middle = _fit_height(render(driving), height)
    right = _fit_height(render(retargeted), height)
    return np.concatenate([np.repeat(left, len(middle), axis=0), middle, right], axis=2)


def run(out_dir, reference_pose_path=REFERENCE_POSE, driving_pose_path=DRIVING_POSE,
        reference_image_path=REFERENCE_IMAGE, fps=FPS, log=print):
    reference = load_pose_json(reference_pose_path)
    driving = load_pose_json(driving_pose_path)
    result = retarget_frames(reference, driving)
    for note in result.notes:
        log("note:", note)
    paths = {
        "pose_json": save_pose_json(result.frames, os.path.join(out_dir, "retargeted_pose.json")),
        "pose_video": write_mp4(os.path.join(out_dir, "retargeted_pose.mp4"), render(result.frames), fps),
    }
    image = cv2.imread(reference_image_path) if reference_image_path else None
    if image is not None:
        preview = preview_frames(image[..., ::-1], reference, driving, result.frames)
        paths["preview_video"] = write_mp4(os.path.join(out_dir, "preview.mp4"), preview, fps)
    log(f"retargeted {len(driving)} frames onto the reference person:")
    for path in paths.values():
        log("  " + os.path.abspath(path))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tcan_core.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tcan_output", help="output folder (default: ./tcan_output)")
    parser.add_argument("--reference-pose", default=REFERENCE_POSE, help="reference POSE_KEYPOINT JSON")
    parser.add_argument("--driving-pose", default=DRIVING_POSE, help="driving POSE_KEYPOINT JSON (file or folder)")
    parser.add_argument("--reference-image", default=REFERENCE_IMAGE, help="reference image for the preview")
    parser.add_argument("--fps", type=float, default=FPS)
    args = parser.parse_args(argv)
    try:
        run(args.out, args.reference_pose, args.driving_pose, args.reference_image, args.fps)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
