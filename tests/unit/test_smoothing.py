"""Temporal smoothing of keypoint tracks."""

import numpy as np

from tcan_core.pose.smoothing import smooth_tracks


def test_constant_and_linear_tracks_are_unchanged_inside_the_sequence():
    t = np.arange(30, dtype=float)
    points = np.stack([np.stack([t * 2.0, np.full(30, 7.0)], -1)] * 3, axis=1)  # [F, 3, 2]
    visible = np.ones((30, 3), bool)
    out = smooth_tracks(points, visible, 2.0)
    np.testing.assert_allclose(out[8:-8], points[8:-8], atol=1e-9)  # symmetric kernel keeps lines
    np.testing.assert_allclose(out[..., 1], 7.0)


def test_missing_points_neither_pull_nor_appear():
    rng = np.random.default_rng(0)
    points = np.full((20, 1, 2), 100.0) + rng.normal(0, 1, (20, 1, 2))
    visible = np.ones((20, 1), bool)
    visible[10] = False
    points[10] = 0.0  # a missing point is stored as (0, 0)
    out = smooth_tracks(points, visible, 1.5)
    assert abs(out[9, 0] - 100).max() < 2.0 and abs(out[11, 0] - 100).max() < 2.0
    assert (out[10] == 0).all()


def test_sigma_zero_is_a_copy_and_noise_is_reduced():
    rng = np.random.default_rng(1)
    points = rng.normal(0, 1, (200, 4, 2))
    visible = np.ones((200, 4), bool)
    np.testing.assert_array_equal(smooth_tracks(points, visible, 0), points)
    assert smooth_tracks(points, visible, 3.0).std() < 0.4 * points.std()
