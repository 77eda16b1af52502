"""PTM: the temperature map against a brute-force Euclidean distance and OpenCV's transform."""

import cv2
import numpy as np
import pytest
import torch

from tcan_core.temporal import cross_frame_group_norm, temperature_map


def brute_force_distance(pose):
    ys, xs = np.nonzero(pose)
    gy, gx = np.mgrid[:pose.shape[0], :pose.shape[1]]
    d = np.sqrt((gy[..., None] - ys) ** 2 + (gx[..., None] - xs) ** 2)
    return d.min(axis=-1)


def pose_frames(height=40, width=56):
    frames = np.zeros((3, height, width, 3), np.uint8)
    frames[0, 10:12, 20:30] = (255, 0, 0)
    frames[1, 25, 5] = (0, 0, 85)
    frames[2, 30:33, 40:42] = (0, 2, 0)
    return frames


def test_matches_the_definition_with_an_exact_euclidean_distance():
    frames = pose_frames()
    pose = (frames != 0).any(axis=(0, 3))
    expected = 3.0 * brute_force_distance(pose) / np.sqrt(20 ** 2 + 28 ** 2) + 1.0
    got = temperature_map(frames)
    assert got.dtype == np.float32 and got.shape == (40, 56)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert (got[pose] == 1.0).all()


def test_matches_opencv_distance_transform_and_tau():
    frames = pose_frames(64, 48)
    background = (~(frames != 0).any(axis=(0, 3))).astype(np.uint8)
    d = cv2.distanceTransform(background, cv2.DIST_L2, 0) / np.sqrt(32 ** 2 + 24 ** 2)
    np.testing.assert_allclose(temperature_map(frames, tau=5.0), 5.0 * d + 1.0, rtol=1e-6)


def test_union_over_frames_float_input_and_empty_windows():
    frames = pose_frames()
    union = temperature_map(frames)
    for single in frames:
        assert (union <= temperature_map(single[None]) + 1e-5).all()  # more pose pixels, nearer everywhere
    assert (union < temperature_map(frames[:1])).any()
    np.testing.assert_array_equal(temperature_map(frames), temperature_map(frames.astype(np.float32) / 255.0))
    np.testing.assert_array_equal(temperature_map(np.zeros((4, 8, 8, 3), np.uint8)), np.ones((8, 8), np.float32))
    nearly_black = np.full((1, 8, 8, 3), 0.5 / 255, np.float32)  # rounds to 0 as an 8-bit image
    np.testing.assert_array_equal(temperature_map(nearly_black), np.ones((8, 8), np.float32))
    with pytest.raises(ValueError, match="tau"):
        temperature_map(frames, tau=float("nan"))
    with pytest.raises(ValueError, match=r"\[F, H, W, C\]"):
        temperature_map(np.zeros((2, 2)))


def test_cross_frame_group_norm_equals_group_norm_on_the_5d_tensor():
    torch.manual_seed(0)
    x = torch.randn(2 * 6, 64, 5, 4)
    weight, bias = torch.randn(64), torch.randn(64)
    reference = torch.nn.functional.group_norm(
        x.reshape(2, 6, 64, 5, 4).permute(0, 2, 1, 3, 4), 32, weight, bias, 1e-5).permute(0, 2, 1, 3, 4).reshape(x.shape)
    torch.testing.assert_close(cross_frame_group_norm(x, 6, 32, weight, bias, 1e-5), reference)
    per_frame = torch.nn.functional.group_norm(x, 32, weight, bias, 1e-5)
    assert not torch.allclose(cross_frame_group_norm(x, 6, 32, weight, bias, 1e-5), per_frame)
    torch.testing.assert_close(cross_frame_group_norm(x, 1, 32, weight, bias, 1e-5), per_frame)
