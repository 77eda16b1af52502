"""Calibrating whole sequences: the sample data, known transforms, canvases, masks, degenerate input."""

import math

import cv2
import numpy as np
import pytest

from tcan_core.calibrate import Calibration, calibrate, pose_silhouette
from tcan_core.pose import retarget
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import DRIVING_POSE, REFERENCE_IMAGE, REFERENCE_POSE

from .synthetic import body, frame
from .test_calibrate_masks import similarity


@pytest.fixture(scope="module")
def sample():
    image = cv2.cvtColor(cv2.imread(REFERENCE_IMAGE), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    return image, load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)


def keypoints(pose_frame):
    return np.asarray(pose_frame["people"][0]["pose_keypoints_2d"], float).reshape(18, 3)


def moved(pose_frame, matrix, width, height):
    """The pose frame with every visible keypoint mapped by matrix, on a width x height canvas."""
    kp = keypoints(pose_frame)
    kp[:, :2] = kp[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    kp[kp[:, 2] == 0] = 0
    return {"people": [{"pose_keypoints_2d": kp.reshape(-1).tolist()}], "canvas_width": width, "canvas_height": height}


def test_sample_data_calibrates_every_frame_and_raises_the_iou(sample):
    image, reference, driving = sample
    retargeted = retarget(reference[0], driving)
    cal = calibrate(image, reference, retargeted)
    assert isinstance(cal, Calibration) and len(cal) == 100
    assert (cal.width, cal.height) == (384, 512)  # retargeted poses live on the reference canvas
    assert not cal.fallback.any() and cal.reasons == {}
    assert np.isfinite(cal.matrices).all() and np.isfinite(cal.iou_after).all()
    assert cal.iou_after.mean() > cal.iou_before.mean() + 0.1
    assert cal.groups.num_groups == 30
    text = cal.summary()
    assert "100 frame(s)" in text and "No frame fell back" in text and "30 group(s)" in text
    assert cal.warp_image(0).shape == (512, 384, 3) and cal.warp_mask(0).shape == (512, 384)


@pytest.mark.parametrize("canvas", [(512, 512), (1024, 576), (300, 700)])
def test_a_known_transform_of_the_real_pose_is_recovered_on_any_canvas(sample, canvas):
    image, reference, _ = sample
    truths = [similarity(1.2, 20, 0, 0), similarity(0.7, -35, 0, 0), similarity(1.0, 180, 0, 0)]
    driving = []
    for m in truths:  # put the reference's neck near the canvas centre
        neck = keypoints(reference[0])[1, :2]
        m[:, 2] = np.array(canvas) / 2 - (m[:, :2] @ neck)
        driving.append(moved(reference[0], m, *canvas))
    cal = calibrate(image, reference, driving)
    assert (cal.width, cal.height) == canvas
    for i, m in enumerate(truths):
        np.testing.assert_allclose(cal.matrices[i], m, atol=1e-6)
        assert cal.iou_after[i] > 0.9 and cal.iou_after[i] > cal.iou_before[i]
    image_big = cv2.resize(image, (768, 1024))  # the pose canvas is half the image: mapped per axis
    big = calibrate(image_big, reference, driving)
    np.testing.assert_allclose(big.matrices[0], truths[0] @ np.diag([0.5, 0.5, 1.0]), atol=1e-6)


def test_calibrated_image_lands_on_the_target_pose(sample):
    """The reference's nose pixel region, warped, sits at the driving frame's nose."""
    image, reference, _ = sample
    m = similarity(0.8, 15, 0, 0)
    m[:, 2] = [200.0, 90.0]
    cal = calibrate(image, reference, [moved(reference[0], m, 512, 512)])
    mark = np.zeros_like(image)
    nose = keypoints(reference[0])[0, :2]
    cv2.circle(mark, (int(nose[0]), int(nose[1])), 6, (1, 1, 1), -1)
    cal.reference_image = mark
    warped = cal.warp_image(0)[..., 0]
    ys, xs = np.nonzero(warped > 0.5)
    target = m[:, :2] @ nose + m[:, 2]
    assert abs(xs.mean() + 0.5 - target[0]) < 1.0 and abs(ys.mean() + 0.5 - target[1]) < 1.0


def test_outputs_at_another_size_fit_the_frame_like_rendered_poses(sample):
    image, reference, driving = sample
    cal = calibrate(image, reference, driving[:3])
    # the 512x512 canvas fits 256x1024: scale 0.5, centred vertically (384 px bars above and below)
    fit = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 384.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(cal.matrix(1, 256, 1024), (fit @ np.vstack([cal.matrices[1], [0, 0, 1]]))[:2],
                               atol=1e-9)
    np.testing.assert_allclose(cal.matrix(1, 256, 256), np.diag([0.5, 0.5]) @ cal.matrices[1], atol=1e-12)
    assert cal.warp_images([0, 2], 256, 128).shape == (2, 128, 256, 3)
    assert cal.warp_masks(None, 64, 64).shape == (3, 64, 64)


def test_driving_frames_on_other_canvases_are_mapped_onto_the_first(sample):
    image, reference, driving = sample
    half = moved(driving[1], np.array([[0.5, 0, 0], [0, 0.5, 0]]), 256, 256)
    cal = calibrate(image, reference, [driving[0], half])
    ref = calibrate(image, reference, driving[:2])
    np.testing.assert_allclose(cal.matrices, ref.matrices, atol=1e-6)
    assert any("different canvas sizes" in n for n in cal.notes)


def test_masks_from_inputs_replace_the_silhouettes(sample):
    image, reference, driving = sample
    driving = driving[:6]
    default = calibrate(image, reference, driving)
    ref_mask = pose_silhouette(keypoints(reference[0]), 384, 512, supersample=2).astype(np.float32)
    same = calibrate(image, reference, driving, reference_mask=ref_mask)
    np.testing.assert_allclose(same.matrices, default.matrices)
    big_mask = cv2.resize(ref_mask, (768, 1024), interpolation=cv2.INTER_NEAREST)[None]  # any size, batch of 1
    resized = calibrate(image, reference, driving, reference_mask=big_mask)
    np.testing.assert_allclose(resized.iou_after, default.iou_after, atol=0.03)
    drv_masks = np.stack([pose_silhouette(keypoints(f), 1024, 1024) for f in
                          [moved(f, np.diag([2.0, 2.0, 1.0])[:2], 1024, 1024) for f in driving]]).astype(np.float32)
    with_drv = calibrate(image, reference, driving, driving_masks=drv_masks)
    np.testing.assert_allclose(with_drv.iou_after, default.iou_after, atol=0.05)
    assert "input masks for the driving" in with_drv.summary() and "input mask for the reference" in resized.summary()


def test_driving_masks_are_the_input_masks_or_the_pose_silhouettes(sample):
    image, reference, driving = sample
    driving = driving[:3]
    cal = calibrate(image, reference, driving)
    for i, pose in enumerate(driving):
        expected = pose_silhouette(keypoints(pose), 512, 512, supersample=2)
        np.testing.assert_array_equal(cal.driving_mask(i), expected)
        # the 512x512 canvas fits 256x128 like rendered poses: scale 0.25, centred (64 px bars left and right)
        fitted = keypoints(pose) * [0.25, 0.25, 1] + [64, 0, 0]
        np.testing.assert_array_equal(cal.driving_mask(i, 256, 128), pose_silhouette(fitted, 256, 128, supersample=2))
    masks = np.random.default_rng(0).random((3, 64, 64)).astype(np.float32)
    given = calibrate(image, reference, driving, driving_masks=masks)
    np.testing.assert_array_equal(given.driving_mask(1, 64, 64), masks[1])
    np.testing.assert_allclose(given.driving_mask(2, 32, 32), masks[2].reshape(32, 2, 32, 2).mean(axis=(1, 3)),
                               atol=1e-6)
    assert given.driving_mask(0).shape == (512, 512)


def person(xy, visible=None):
    return frame(xy, visible=visible)["people"][0]


def test_frames_that_cannot_be_calibrated_reuse_the_nearest_good_one(sample):
    image, reference, driving = sample
    frames = [dict(f) for f in driving[:8]]
    frames[2] = {"people": [], "canvas_width": 512, "canvas_height": 512}
    # frame 3: neck + right shoulder (a usable person, one TPC keypoint); frame 5: nose + neck
    frames[3] = {"people": [person(body((260.0, 150.0)), np.array([0, 1, 1] + [0] * 15))],
                 "canvas_width": 512, "canvas_height": 512}
    frames[5] = {"people": [person(body((260.0, 150.0)), np.array([1, 1] + [0] * 16))],
                 "canvas_width": 512, "canvas_height": 512}
    cal = calibrate(image, reference, frames)
    assert list(np.flatnonzero(cal.fallback)) == [2, 3, 5]
    assert cal.reasons[2] == "no person" and "1 keypoint(s) in common" in cal.reasons[3]
    assert "1 keypoint(s) in common" in cal.reasons[5]
    assert cal.source[2] == 1 and cal.source[3] == 4 and cal.source[5] == 4  # ties go to the earlier frame
    np.testing.assert_array_equal(cal.matrices[2], cal.matrices[1])
    np.testing.assert_array_equal(cal.matrices[5], cal.matrices[4])
    assert cal.subsets[2] == () and cal.subset_names[2] == ""
    assert np.isfinite(cal.matrices).all() and np.isfinite(cal.iou_after).all()
    assert "3 frame(s) fell back" in cal.summary()


def test_coincident_points_empty_masks_and_off_canvas_fits_fall_back(sample):
    image, reference, driving = sample
    frames = [dict(f) for f in driving[:5]]
    point = np.tile([[300.0, 300.0]], (18, 1))
    frames[1] = {"people": [person(point)], "canvas_width": 512, "canvas_height": 512}
    far = keypoints(driving[3])
    far[:, 0] += 5000
    frames[3] = {"people": [{"pose_keypoints_2d": far.reshape(-1).tolist()}], "canvas_width": 512, "canvas_height": 512}
    cal = calibrate(image, reference, frames)
    assert cal.reasons[1] == "empty target person mask" and cal.reasons[3] == "empty target person mask"
    masks = np.ones((5, 64, 64), np.float32)
    masks[4] = 0
    cal = calibrate(image, reference, frames, driving_masks=masks)
    assert cal.reasons[1].startswith("no plausible fit")
    assert cal.reasons[3] == "the fit puts the reference person off the canvas"
    assert cal.reasons[4] == "empty target person mask"
    assert list(cal.source) == [0, 0, 2, 2, 2] and not cal.fallback[[0, 2]].any()


def test_when_no_frame_can_be_calibrated_the_reference_is_only_resized(sample):
    image, reference, _ = sample
    empty = {"people": [], "canvas_width": 512, "canvas_height": 256}
    cal = calibrate(image, reference, [empty, empty])
    assert cal.fallback.all() and (cal.source == -1).all()
    # a 384x512 reference fitted into the 512x256 canvas: scale 0.5, centred horizontally, never stretched
    np.testing.assert_allclose(cal.matrices[0], [[0.5, 0, (512 - 384 * 0.5) / 2], [0, 0.5, 0]])
    assert (cal.iou_after == 0).all() and "uncalibrated reference" in cal.summary()


def test_one_frame(sample):
    image, reference, driving = sample
    cal = calibrate(image, reference, driving[7])  # a single frame dict is a one-frame sequence
    assert len(cal) == 1 and cal.groups.num_groups == 1 and not cal.fallback.any()
    assert cal.warp_images().shape == (1, 512, 512, 3)


def test_a_thousand_frames_stay_small_and_report_progress(sample):
    image, reference, driving = sample
    long = driving * 10
    steps = []
    cal = calibrate(image, reference, long, num_groups=30, progress=steps.append)
    assert len(cal) == 1000 and sum(steps) == 1000 and max(steps) <= 32
    np.testing.assert_array_equal(cal.matrices[:100], cal.matrices[900:])
    assert np.isfinite(cal.matrices).all() and not cal.fallback.any()
    assert set(np.diff(cal.groups.bounds)) == {33, 34}
    stored = sum(v.nbytes for v in vars(cal).values() if isinstance(v, np.ndarray))
    # no per-frame images: a few hundred bytes per frame (matrix, IoUs, driving keypoints)
    assert stored < cal.reference_image.nbytes + cal.reference_mask.nbytes + 1000 * 512


def test_uint8_and_batched_reference_images_are_accepted(sample):
    image, reference, driving = sample
    as_uint8 = (image * 255).round().astype(np.uint8)
    a = calibrate(as_uint8, reference, driving[:2])
    b = calibrate(np.stack([image, image * 0]), reference, driving[:2])
    np.testing.assert_allclose(a.matrices, b.matrices)
    np.testing.assert_allclose(a.reference_image, image, atol=1e-6)


@pytest.mark.parametrize("change, message", [
    ({"reference_mask": np.zeros((512, 384), np.float32)}, "reference mask is empty"),
    ({"driving_masks": np.ones((3, 64, 64), np.float32)}, "driving masks have 3 frame"),
    ({"driving_masks": np.ones((2,), np.float32)}, "MASK"),
    ({"reference_mask": np.full((512, 384), np.nan, np.float32)}, "NaN"),
    ({"num_groups": 0}, "at least 1"),
    ({"reference_image": np.zeros((512, 384, 7), np.float32)}, "1-4 channels"),
    ({"reference_image": np.full((4, 4, 3), np.nan, np.float32)}, "NaN"),
    ({"reference_image": np.zeros((0, 4, 4, 3), np.float32)}, "batch is empty"),
    ({"driving_pose": []}, "driving pose has no frames"),
    ({"reference_pose": [{"people": [], "canvas_width": 384, "canvas_height": 512}]}, "no usable person"),
    ({"reference_pose": [frame(body(), visible=[0, 1, 1] + [0] * 15, width=384, height=512)]}, "fewer than 2"),
    ({"reference_pose": [frame(np.tile([[100.0, 100.0]], (18, 1)), width=384, height=512)]}, "empty"),
    ({"driving_pose": [{"people": "x", "canvas_width": 5, "canvas_height": 5}]}, "'people' must be a list"),
])
def test_bad_input_is_a_clear_value_error(sample, change, message):
    image, reference, driving = sample
    args = {"reference_image": image, "reference_pose": reference, "driving_pose": driving[:2]}
    args.update(change)
    with pytest.raises(ValueError, match=message):
        calibrate(args.pop("reference_image"), args.pop("reference_pose"), args.pop("driving_pose"), **args)


def test_scale_and_angle_report(sample):
    image, reference, _ = sample
    m = similarity(0.9, 30, 0, 0)
    m[:, 2] = [100, 50]
    cal = calibrate(image, reference, [moved(reference[0], m, 512, 512)])
    scale, angle = cal.scale_and_angle()
    assert scale[0] == pytest.approx(0.9) and angle[0] == pytest.approx(30) and not math.isnan(angle[0])


def test_absurd_coordinates_fall_back_instead_of_crashing(sample):
    image, reference, driving = sample
    frames = [dict(f) for f in driving[:3]]
    glitch = keypoints(driving[1])
    glitch[9, 0] = 1e9  # one knee a billion pixels away
    frames[1] = {"people": [{"pose_keypoints_2d": glitch.reshape(-1).tolist()}], "canvas_width": 512,
                 "canvas_height": 512}
    huge = keypoints(driving[2])
    huge[:, :2] *= 1e15
    frames[2] = {"people": [{"pose_keypoints_2d": huge.reshape(-1).tolist()}], "canvas_width": 512,
                 "canvas_height": 512}
    for search in (True, False):
        for masks in (None, np.ones((3, 64, 64), np.float32)):
            cal = calibrate(image, reference, frames, subset_search=search, driving_masks=masks)
            assert cal.fallback[2] and not cal.fallback[0]
            assert np.isfinite(cal.matrices).all() and np.isfinite(cal.iou_after).all()
            assert np.isfinite(cal.warp_image(2)).all()
    cal = calibrate(image, reference, frames, subset_search=True)
    assert not cal.fallback[1] and 9 not in cal.subsets[1]  # the search drops the glitched leg


def test_person_images_screen_the_background_out(sample):
    """TPC encodes calibrated images without background: changing the reference outside its person mask
    changes nothing, and only the person is left (black where the warped mask is 0)."""
    image, reference, driving = sample
    cal = calibrate(image, reference, driving[:2])
    other = image.copy()
    outside = cal.reference_mask == 0
    other[outside] = 1.0 - other[outside]
    repainted = calibrate(other, reference, driving[:2])
    np.testing.assert_array_equal(cal.person_images([0, 1], 256, 256), repainted.person_images([0, 1], 256, 256))
    assert not np.array_equal(cal.warp_images([0], 256, 256), repainted.warp_images([0], 256, 256))
    person = cal.person_images([1])[0]
    near_person = cv2.dilate((cal.warp_mask(1) > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # bicubic reach
    assert not person[~near_person].any() and person[near_person].any()
