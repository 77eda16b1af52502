"""Writes the Templates dialog's thumbnail `<workflow file name>.jpg` beside each bundled workflow.

    python scripts/make_thumbnails.py      (from the repository root; after build_workflows.py)

Each picture shows what its workflow does, drawn from the bundled sample data with tcan_core (no
ComfyUI, no model weights): the sample reference picture, the sample poses, their retargeting, TPC's
calibrated references. No generated video is shown: the pack ships no weights to make one honestly.
The dialog draws them in a square box (object-contain), so they are square.
"""

import os
import sys

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from build_workflows import TITLES  # noqa: E402  (scripts/ is on sys.path when run as a script)

from tcan_core import sheet  # noqa: E402
from tcan_core.demo import Pipeline  # noqa: E402
from tcan_core.pose.pose_json import load_pose_json  # noqa: E402
from tcan_core.samples import DRIVING_POSE, REFERENCE_IMAGE, REFERENCE_POSE  # noqa: E402

SIZE = 512
FRAMES = (8, 30, 52, 74)  # sample frames that show the dance's range of motion


def canvas(title, body):
    """A SIZE x SIZE picture: the body centred under a one-line title."""
    out = np.full((SIZE, SIZE, 3), sheet.BACKGROUND, np.uint8)
    sheet.text(out, title, (16, 34), 0.75)
    scale = min(1.0, (SIZE - 24) / body.shape[1], (SIZE - 60) / body.shape[0])
    if scale < 1:
        size = (round(body.shape[1] * scale), round(body.shape[0] * scale))
        body = cv2.resize(body, size, interpolation=cv2.INTER_AREA)
    top, left = 48 + (SIZE - 48 - body.shape[0]) // 2, (SIZE - body.shape[1]) // 2
    out[top:top + body.shape[0], left:left + body.shape[1]] = body
    return out


def tiles(images, width, height, captions=None, columns=2):
    """Images fitted to width x height, in rows of `columns`."""
    fitted = [sheet.fit(image, width, height) for image in images]
    if captions:
        fitted = [sheet.caption(tile, line) for tile, line in zip(fitted, captions)]
    return sheet.vstack([sheet.hstack(fitted[i:i + columns]) for i in range(0, len(fitted), columns)])


def arrow(height, width=40):
    out = np.full((height, width, 3), sheet.BACKGROUND, np.uint8)
    cv2.arrowedLine(out, (6, height // 2), (width - 6, height // 2), sheet.TEXT, 2, cv2.LINE_AA, tipLength=0.35)
    return out


def thumbnails(p):
    reference = sheet.caption(sheet.fit(p.reference_panel(), 180, 240), "reference")
    poses = [p.poses[i] for i in FRAMES]
    calibrated = [p.calibrated(i) for i in FRAMES]
    driving = [p.driving_images[i] for i in FRAMES]
    grid = dict(width=120, height=160)
    return {
        "pose_retarget": canvas("Pose retarget", sheet.vstack([
            tiles(driving[:3], 150, 150, ["driving"] * 3, columns=3),
            tiles(poses[:3], 150, 200, ["retargeted"] * 3, columns=3)], gap=10)),
        "tcan_zero_shot": canvas("TCAN: picture + poses", sheet.hstack(
            [reference, arrow(240), tiles(poses, **grid)])),
        "tcan_tpc": canvas("TCAN + TPC calibration", sheet.hstack(
            [reference, arrow(240), tiles(calibrated, **grid, captions=[p.iou(i) for i in FRAMES])])),
        "tcan_from_video": canvas("TCAN: your picture + video", sheet.hstack(
            [sheet.caption(sheet.fit(p.image, 180, 240), "your picture"), arrow(240),
             tiles(driving, 120, 120, ["DWPose"] * 4)])),
        "motion_module_clip": canvas("Motion module: 16-frame clip", frame_slots()),
        "pose_controlnet_clip": canvas("Temporal ControlNet clip", tiles(
            [p.poses[i] for i in range(0, 16)], 72, 96, columns=4)),
    }


def frame_slots():
    """16 frames denoised together: a diagram, since this workflow uses no sample data."""
    slots = []
    for i in range(16):
        slot = np.full((90, 90, 3), (46, 52, 64), np.uint8)
        sheet.text(slot, str(i + 1), (34 if i < 9 else 28, 52), 0.6)
        slots.append(slot)
    grid = sheet.vstack([sheet.hstack(slots[i:i + 4], gap=8) for i in range(0, 16, 4)], gap=8)
    note = sheet.lines(["16 latents, one batch: the motion modules let every frame attend to the others"],
                       grid.shape[1], 50)
    return sheet.vstack([grid, note], gap=10)


def main():
    image = cv2.imread(REFERENCE_IMAGE)[..., ::-1].copy()
    pipeline = Pipeline(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE), image)
    for name, picture in thumbnails(pipeline).items():
        path = os.path.join(ROOT, "workflows", TITLES[name] + ".jpg")
        cv2.imwrite(path, np.ascontiguousarray(picture[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 88])
        print("wrote", os.path.relpath(path, ROOT))


if __name__ == "__main__":
    main()
