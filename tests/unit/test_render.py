"""OpenPose-18 rendering: a hand-checked small case and pixel parity with draw_bodypose."""

import numpy as np
import pytest

from tcan_core.pose import render, retarget
from tcan_core.pose.keypoints import frames_from_pose_keypoint

from .official_render import render_official
from .synthetic import body, dance, frame


def two_joint_frame(neck, shoulder, width=64, height=48):
    kp = np.zeros((18, 3))
    kp[1] = [*neck, 1]
    kp[2] = [*shoulder, 1]
    return {"people": [{"pose_keypoints_2d": kp.reshape(-1).tolist()}], "canvas_width": width, "canvas_height": height}


def test_hand_checked_single_limb():
    img = render([two_joint_frame((10, 20), (50, 20))], 64, 48)[0]
    # the limb neck -> right shoulder is red at 0.6 brightness: floor(255 * 0.6) = 153
    assert tuple(img[20, 30]) == (153, 0, 0)
    assert tuple(img[17, 30]) == (153, 0, 0) and tuple(img[23, 30]) == (153, 0, 0)  # half width 4
    assert tuple(img[14, 30]) == (0, 0, 0) and tuple(img[26, 30]) == (0, 0, 0)
    # joints: neck (index 1) orange, right shoulder (index 2) yellow-orange, at full brightness, radius 4
    assert tuple(img[20, 10]) == (255, 85, 0) and tuple(img[20, 14]) == (255, 85, 0)
    assert tuple(img[20, 50]) == (255, 170, 0) and tuple(img[24, 50]) == (255, 170, 0)
    assert tuple(img[20, 55]) == (0, 0, 0)
    # nothing else is drawn
    assert (img.reshape(-1, 3).any(axis=1)).sum() < 2 * 9 * 40 + 2 * 81
    assert tuple(img[5, 5]) == (0, 0, 0)


def test_missing_joints_and_their_limbs_are_not_drawn():
    f = two_joint_frame((10, 20), (50, 20))
    f["people"][0]["pose_keypoints_2d"][5] = 0.0  # neck confidence 0
    img = render([f], 64, 48)[0]
    assert tuple(img[20, 30]) == (0, 0, 0) and tuple(img[20, 10]) == (0, 0, 0)
    assert tuple(img[20, 50]) == (255, 170, 0)


def test_pixel_identical_to_draw_bodypose_on_sample_motion():
    frames = [frame(b) for b in dance(12, jitter=2.0)]
    frames.append(frame(body((100.0, 120.0)), body((350.0, 140.0))))  # two people
    frames.append({"people": [], "canvas_width": 512, "canvas_height": 512})
    for width, height in ((512, 512), (256, 256)):
        ours = render(frames, width, height)
        for f, img in zip(frames, ours):
            np.testing.assert_array_equal(img, render_official(f, width, height))
    # another aspect: the canvas fits the output, i.e. the official drawing of the canvas padded (centred)
    # to the output's aspect: 512 x 768, the pose 128 px down
    for f, img in zip(frames, render(frames, 256, 384)):
        padded = {"canvas_width": 512, "canvas_height": 768,
                  "people": [{"pose_keypoints_2d": (np.asarray(p["pose_keypoints_2d"], float).reshape(18, 3)
                                                    + [0, 128, 0]).reshape(-1).tolist()} for p in f["people"]]}
        np.testing.assert_array_equal(img, render_official(padded, 256, 384))


def test_size_defaults_to_canvas_and_the_canvas_fits_another_size():
    f = two_joint_frame((10, 20), (50, 20), width=100, height=50)
    assert render([f]).shape == (1, 50, 100, 3)
    img = render([f], 200, 200)[0]
    # a 100x50 canvas fits 200x200: scale 2, 50 px bars above and below -> neck (10, 20) lands at (20, 90)
    assert tuple(img[90, 20]) == (255, 85, 0)
    img = render([f], 400, 200)[0]  # same aspect: scale 4 on both axes
    assert tuple(img[80, 40]) == (255, 85, 0)


def test_hands_are_drawn_only_when_asked():
    hand = np.column_stack([np.linspace(100, 140, 21), np.full(21, 300.0), np.ones(21)]).reshape(-1).tolist()
    f = frame(body(), hands=(hand, None))
    plain, with_hands = render([f], 512, 512), render([f], 512, 512, hands=True)
    assert (plain != with_hands).any()
    assert tuple(with_hands[0, 300, 140]) == (0, 0, 255)  # hand joints are blue


def test_accepts_parsed_frames_and_rejects_bad_sizes():
    f = [frame(b) for b in dance(2)]
    np.testing.assert_array_equal(render(frames_from_pose_keypoint(f), 64, 64), render(f, 64, 64))
    with pytest.raises(ValueError, match="no pose frames"):
        render([], 64, 64)
    with pytest.raises(ValueError, match="render size"):
        render(f, 100000, 64)


def test_renders_a_retargeted_sequence():
    ref = frame(body((190.0, 140.0)), width=384)
    out = render(retarget(ref, [frame(b) for b in dance(5)]), 384, 512)
    assert out.shape == (5, 512, 384, 3) and out.dtype == np.uint8 and out.any()
