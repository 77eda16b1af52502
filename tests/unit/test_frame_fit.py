"""One framing rule for the reference picture, the rendered poses and TPC's calibration (frame_fit.py)."""

import cv2
import numpy as np
import pytest

from tcan_core.calibrate import calibrate
from tcan_core.frame_fit import fit_image, fit_matrix, fit_points, long_side_size, pad_box
from tcan_core.pose import render, retarget
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import REFERENCE_POSE

NOSE_COLOR = (255, 0, 0)  # OpenPose-18 joint 0


def reference_on_picture(width, height):
    """The sample reference pose placed in a width x height picture (uniformly scaled to 80% of the
    picture's height, centred), on the picture's canvas, with a white disc on the nose."""
    frame = load_pose_json(REFERENCE_POSE)[0]
    kp = np.asarray(frame["people"][0]["pose_keypoints_2d"], float).reshape(18, 3)
    visible = kp[:, 2] > 0
    lo, hi = kp[visible, :2].min(axis=0), kp[visible, :2].max(axis=0)
    scale = 0.8 * height / (hi[1] - lo[1])
    kp[visible, :2] = (kp[visible, :2] - (lo + hi) / 2) * scale + [width / 2, height / 2]
    pose = [{"people": [{"pose_keypoints_2d": kp.reshape(-1).tolist()}], "canvas_width": width,
             "canvas_height": height}]
    picture = np.zeros((height, width, 3), np.float32)
    cv2.circle(picture, (int(kp[0, 0]), int(kp[0, 1])), 6, (1.0, 1.0, 1.0), -1)
    return picture, pose, kp[0, :2]


def centroid(mask):
    ys, xs = np.nonzero(mask)
    assert len(xs), "marker not found"
    return np.array([xs.mean() + 0.5, ys.mean() + 0.5])


@pytest.mark.parametrize("size", [(600, 600), (450, 800), (800, 450)], ids=["1:1", "9:16", "16:9"])
def test_the_reference_nose_lands_on_the_rendered_nose(size):
    """Sample Long Video's framed reference, Render Pose and TPC's calibrated image put a marker at the
    reference's nose on the same frame pixel (within 8 px) at 512x512, whatever the picture's aspect."""
    width, height = size
    picture, pose, nose = reference_on_picture(width, height)
    retargeted = retarget(pose[0], pose)  # Pose Retarget of the reference onto itself: the reference canvas
    in_reference = centroid(fit_image(picture, 512, 512)[..., 0] > 0.5)
    rendered = render(retargeted, 512, 512)[0]
    in_pose = centroid((rendered == NOSE_COLOR).all(axis=-1))
    calibration = calibrate(picture, pose, retargeted)
    in_calibration = centroid(calibration.warp_image(0, 512, 512)[..., 0] > 0.5)
    # the expectation by hand: scale until the picture fits 512x512, centre it
    scale = 512 / max(width, height)
    expected = (nose - [width / 2, height / 2]) * scale + 256
    for found in (in_reference, in_pose, in_calibration):
        assert np.abs(found - expected).max() < 8, (found, expected)


def test_fit_geometry_by_hand():
    assert pad_box(800, 450, 512, 512) == (0.0, -175.0, 800.0, 800.0)
    np.testing.assert_allclose(fit_matrix(450, 800, 256, 256), [[256 / 800, 0, 175 * 256 / 800], [0, 256 / 800, 0]])
    points = np.array([[0.0, 0.0, 1.0], [800.0, 450.0, 0.0]])
    np.testing.assert_allclose(fit_points(points, (800, 450), (512, 512)), [[0, 112, 1], [512, 400, 0]])
    assert long_side_size(450, 800, 512) == (288, 512) and long_side_size(800, 450, 512) == (512, 288)
    assert long_side_size(600, 601, 512) == (512, 512)
    with pytest.raises(ValueError, match="at least 8"):
        long_side_size(10, 10, 4)


def test_fit_image_equals_a_plain_resize_for_the_frames_aspect_and_letterboxes_otherwise():
    rng = np.random.default_rng(0)
    image = rng.random((64, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(fit_image(image, 48, 32), cv2.resize(image, (48, 32), interpolation=cv2.INTER_AREA),
                               atol=1e-5)
    # 96x64 into 48x48: the 48x32 resize between 8-row black bars
    boxed = fit_image(image, 48, 48)
    np.testing.assert_allclose(boxed[8:40], cv2.resize(image, (48, 32), interpolation=cv2.INTER_AREA), atol=1e-5)
    assert not boxed[:8].any() and not boxed[40:].any()
    mask = rng.random((20, 10)).astype(np.float32)
    assert fit_image(mask, 40, 40).shape == (40, 40) and fit_image(mask[..., None], 40, 40).shape == (40, 40, 1)
