"""Procrustes calibration speed at 512x512 on one CPU core, with and without the subset search.

    python benchmarks/calibrate.py [--frames 1000] [--repeats 3]

The bundled reference (padded to 512x512) is calibrated onto the bundled 512x512 driving poses
(not retargeted, so the two people really differ), repeated to --frames. Prints milliseconds per
frame for: fitting and scoring only (what `calibrate` does), with the subset search and with all
common keypoints; the search's own share; and warping the calibrated image and mask at 512x512
(what the sampler does on demand). For scale: TPC reports its whole calibration adding about
0.2-0.3 s per frame on an A100 (paper Table 3).
"""

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from tcan_core.calibrate import calibrate  # noqa: E402
from tcan_core.pose.pose_json import load_pose_json  # noqa: E402
from timing import best_of, cpu_benchmark_arguments  # noqa: E402
from tcan_core.samples import DRIVING_POSE, REFERENCE_IMAGE, REFERENCE_POSE  # noqa: E402

SIZE = 512


def padded_reference():
    """The 384x512 sample reference padded (not stretched) to 512x512, and its pose moved with it."""
    image = cv2.cvtColor(cv2.imread(REFERENCE_IMAGE), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    pad = (SIZE - image.shape[1]) // 2
    image = cv2.copyMakeBorder(image, 0, SIZE - image.shape[0], pad, SIZE - image.shape[1] - pad,
                               cv2.BORDER_REPLICATE)
    frame = load_pose_json(REFERENCE_POSE)[0]
    person = dict(frame["people"][0])
    body = np.asarray(person["pose_keypoints_2d"], float).reshape(-1, 3)
    body[body[:, 2] > 0, 0] += pad
    person["pose_keypoints_2d"] = body.reshape(-1).tolist()
    return image, [{"people": [person], "canvas_width": SIZE, "canvas_height": SIZE}]


def main():
    args = cpu_benchmark_arguments()

    image, reference = padded_reference()
    sample = load_pose_json(DRIVING_POSE)
    driving = (sample * (args.frames // len(sample) + 1))[:args.frames]
    n = len(driving)

    t_search, searched = best_of(args.repeats, lambda: calibrate(image, reference, driving, subset_search=True))
    t_plain, plain = best_of(args.repeats, lambda: calibrate(image, reference, driving, subset_search=False))
    warp_frames = range(min(n, 200))

    def warp():
        for i in warp_frames:
            searched.warp_image(i)
            searched.warp_mask(i)
    t_warp, _ = best_of(args.repeats, warp)

    used = np.mean([len(s) for s in searched.subsets])
    ms = 1000.0 / n
    print(f"frames: {n} (bundled 100-frame sample repeated), {SIZE}x{SIZE}, one core, best of {args.repeats}")
    print(f"calibrate, subset search on : {t_search * ms:6.2f} ms/frame   "
          f"IoU {searched.iou_before.mean():.3f} -> {searched.iou_after.mean():.3f}, "
          f"{used:.1f} of the common keypoints used on average")
    print(f"calibrate, all keypoints    : {t_plain * ms:6.2f} ms/frame   "
          f"IoU {plain.iou_before.mean():.3f} -> {plain.iou_after.mean():.3f}")
    print(f"subset search itself        : {(t_search - t_plain) * ms:6.2f} ms/frame "
          f"({(t_search - t_plain) * ms / 250:.1%} of TPC's ~0.25 s/frame on an A100)")
    print(f"warp image + mask {SIZE}x{SIZE}   : {t_warp * 1000 / len(warp_frames):6.2f} ms/frame (on demand)")


if __name__ == "__main__":
    main()
