"""Everything that runs before diffusion, end to end, without ComfyUI and without model weights.

    python -m tcan_core.demo [--out tcan_output] [--reference-pose FILE] [--driving-pose FILE]
                             [--reference-image FILE]

Retargets the driving pose sequence (default: the bundled sample) onto the reference person
(default: the bundled sample) and renders it as OpenPose images; calibrates the reference image
onto every retargeted pose (TPC); computes the pose-driven temperature map of every window of
Sample Long Video's schedule (TCAN: 16 frames, overlap 4). Writes:
    retargeted_pose.json   POSE_KEYPOINT, loadable with Load Pose JSON
    retargeted_pose.mp4    the pose video a pose ControlNet takes
    preview.mp4            per frame: reference | driving pose | retargeted pose | calibrated
                           reference (IoU before -> after) | the window's PTM, over the schedule
    contact_sheet.png      the same stages on a few frames and every window, in one picture
Needs numpy and OpenCV only (requirements.txt); torch is not imported.
"""

import argparse
import os
import sys

import cv2
import numpy as np

from . import sheet
from .calibrate import DEFAULT_GROUPS, calibrate
from .pose import render, retarget_frames
from .pose.pose_json import load_pose_json, save_pose_json
from .samples import DRIVING_POSE, FPS, REFERENCE_IMAGE, REFERENCE_POSE
from .temporal.temperature import temperature_map
from .temporal.windows import sliding_windows
from .video import write_mp4

WINDOW_LENGTH, OVERLAP, TAU = 16, 4, 3.0  # TCAN's schedule and PTM strength (Sample Long Video's defaults)
PANEL_HEIGHT = 256
SHEET_COLUMNS = 8


class Pipeline:
    """The pre-diffusion stages on one reference and one driving sequence."""

    def __init__(self, reference_pose, driving_pose, reference_image):
        self.reference, self.driving = reference_pose, driving_pose
        self.image = reference_image  # uint8 RGB
        self.retargeted = retarget_frames(reference_pose, driving_pose)
        self.poses = render(self.retargeted.frames)
        self.driving_images = render(driving_pose)
        self.calibration = calibrate(reference_image, reference_pose, self.retargeted.frames, num_groups=DEFAULT_GROUPS)
        self.windows = sliding_windows(len(self.poses), WINDOW_LENGTH, OVERLAP, closed_loop=False)
        self.ptm = [temperature_map(self.poses[window], TAU) for window in self.windows]
        self.ptm_max = max(float(t.max()) for t in self.ptm)

    def __len__(self):
        return len(self.poses)

    def reference_panel(self):
        h, w = self.image.shape[:2]
        return sheet.overlay(self.image, render(self.reference, w, h)[0])

    def mask_panel(self):
        mask = np.round(np.clip(self.calibration.reference_mask, 0, 1) * 255).astype(np.uint8)
        return np.repeat(mask[..., None], 3, axis=2)

    def notes(self):
        """What the stages report: the calibration summary and the retargeting notes."""
        return (["Pose Retarget: " + (", ".join(self.retargeted.notes) or "no notes")]
                + self.calibration.summary().split("\n"))

    def calibrated(self, i):
        warped = np.round(self.calibration.warp_image(i) * 255).astype(np.uint8)
        return sheet.overlay(warped, self.poses[i])

    def window_of(self, i):
        """The window whose middle is nearest frame i, among those holding it."""
        holding = [k for k, window in enumerate(self.windows) if i in window]
        return min(holding, key=lambda k: abs(self.windows[k][len(self.windows[k]) // 2] - i))

    def iou(self, i):
        return f"IoU {self.calibration.iou_before[i]:.2f} -> {self.calibration.iou_after[i]:.2f}"

    def frames_of(self, k):
        return f"frames {self.windows[k][0]}-{self.windows[k][-1]}"

    def preview_frame(self, i, reference):
        """reference | driving | retargeted | calibrated | PTM, captioned, over the window schedule."""
        def panel(image, line):
            h, w = image.shape[:2]
            return sheet.caption(sheet.fit(image, round(w * PANEL_HEIGHT / h), PANEL_HEIGHT), line)
        k = self.window_of(i)
        row = sheet.hstack([panel(reference, "reference"), panel(self.driving_images[i], f"driving, frame {i}"),
                            panel(self.poses[i], "retargeted"), panel(self.calibrated(i), "TPC " + self.iou(i)),
                            panel(sheet.heat(self.ptm[k], self.ptm_max), "PTM, " + self.frames_of(k))])
        frame = sheet.vstack([row, sheet.schedule(self.windows, len(self), row.shape[1], current=i)])
        return frame[:frame.shape[0] // 2 * 2, :frame.shape[1] // 2 * 2]  # even sizes for the codec

    def contact_sheet(self):
        """A few frames of every stage and the PTM of every window, with a summary, in one picture."""
        tile_h = 160
        tile_w = round(tile_h * self.poses.shape[2] / self.poses.shape[1])
        frames = np.unique(np.linspace(0, len(self) - 1, SHEET_COLUMNS).round().astype(int))
        windows = np.unique(np.linspace(0, len(self.windows) - 1, min(SHEET_COLUMNS, len(self.windows))).round()
                            .astype(int))

        def row(title, tiles):
            label = np.full((tile_h + 20, 150, 3), sheet.BACKGROUND, np.uint8)
            for n, line in enumerate(title.split("\n")):
                sheet.text(label, line, (6, 24 + 20 * n), 0.5)
            return sheet.hstack([label] + [sheet.caption(sheet.fit(image, tile_w, tile_h), line)
                                           for image, line in tiles])

        rows = [
            sheet.hstack([row("reference", [(self.reference_panel(), "image and pose"),
                                            (self.mask_panel(), "person mask (TPC)")]),
                          sheet.lines(self.notes(), (tile_w + 6) * (SHEET_COLUMNS - 2) - 12, tile_h + 20)],
                         gap=12),
            row("driving poses", [(self.driving_images[i], f"frame {i}") for i in frames]),
            row("retargeted\nposes", [(self.poses[i], f"frame {i}") for i in frames]),
            row("TPC calibrated\nreference", [(self.calibrated(i), self.iou(i)) for i in frames]),
            row(f"PTM per window\n(tau {TAU:g})\ndark: T = 1\nbright: T = {self.ptm_max:.1f}",
                [(sheet.heat(self.ptm[k], self.ptm_max), self.frames_of(k)) for k in windows]),
        ]
        width = max(r.shape[1] for r in rows)
        schedule = sheet.hstack([row("window\nschedule", [])[:60], sheet.schedule(self.windows, len(self), width - 156)])
        header = np.full((70, width, 3), sheet.BACKGROUND, np.uint8)
        good = ~self.calibration.fallback
        sheet.text(header, f"TCAN / TPC before diffusion: {len(self)} frames onto the reference's "
                           f"{self.poses.shape[2]}x{self.poses.shape[1]} canvas (no model weights)", (8, 26), 0.6)
        sheet.text(header, f"TPC: mean IoU of reference and pose silhouettes {self.calibration.iou_before[good].mean():.2f}"
                           f" before, {self.calibration.iou_after[good].mean():.2f} after calibration. Sample Long "
                           f"Video: {len(self.windows)} windows of {WINDOW_LENGTH} frames, overlap {OVERLAP}.",
                   (8, 54), 0.45, sheet.MUTED)
        return sheet.vstack([header] + rows + [schedule], gap=8)


def run(out_dir, reference_pose_path=REFERENCE_POSE, driving_pose_path=DRIVING_POSE,
        reference_image_path=REFERENCE_IMAGE, fps=FPS, log=print):
    reference = load_pose_json(reference_pose_path)
    driving = load_pose_json(driving_pose_path)
    bgr = cv2.imread(reference_image_path) if reference_image_path else None
    if bgr is None:
        raise ValueError(f"cannot read the reference image {reference_image_path!r}")
    pipeline = Pipeline(reference, driving, np.ascontiguousarray(bgr[..., ::-1]))
    for note in pipeline.retargeted.notes:
        log("note:", note)
    reference_panel = pipeline.reference_panel()
    paths = {
        "pose_json": save_pose_json(pipeline.retargeted.frames, os.path.join(out_dir, "retargeted_pose.json")),
        "pose_video": write_mp4(os.path.join(out_dir, "retargeted_pose.mp4"), pipeline.poses, fps),
        "preview_video": write_mp4(os.path.join(out_dir, "preview.mp4"),
                                   np.stack([pipeline.preview_frame(i, reference_panel) for i in range(len(pipeline))]),
                                   fps),
        "contact_sheet": os.path.join(out_dir, "contact_sheet.png"),
    }
    if not cv2.imwrite(paths["contact_sheet"], np.ascontiguousarray(pipeline.contact_sheet()[..., ::-1]),
                       [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise RuntimeError(f"OpenCV could not write {paths['contact_sheet']}")
    log(f"retargeted {len(driving)} frames onto the reference person; "
        + pipeline.calibration.summary().split("\n")[1].lower().replace("mean iou", "TPC: mean IoU"))
    log(f"{len(pipeline.windows)} windows of {WINDOW_LENGTH} frames (overlap {OVERLAP}): "
        + ", ".join(f"{w[0]}-{w[-1]}" for w in pipeline.windows))
    for path in paths.values():
        log("  " + os.path.abspath(path))
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tcan_core.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="tcan_output", help="output folder (default: ./tcan_output)")
    parser.add_argument("--reference-pose", default=REFERENCE_POSE, help="reference POSE_KEYPOINT JSON")
    parser.add_argument("--driving-pose", default=DRIVING_POSE, help="driving POSE_KEYPOINT JSON (file or folder)")
    parser.add_argument("--reference-image", default=REFERENCE_IMAGE,
                        help="the reference picture (its pose is --reference-pose)")
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
