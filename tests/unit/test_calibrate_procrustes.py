"""Procrustes fit: agreement with scikit-image's Umeyama estimate, exactness, degenerate input."""

import math

import numpy as np
import pytest

from tcan_core.calibrate import procrustes, procrustes_batch, similarity_matrix

skimage_transform = pytest.importorskip("skimage.transform")


def skimage_matrix(src, dst):
    """Independent oracle: scikit-image's least-squares similarity (Umeyama 1991), 2x3 / dxd+1."""
    return skimage_transform.estimate_transform("similarity", src, dst).params[:-1]


def ours_matrix(src, dst):
    s, R, t = procrustes(src, dst)
    return np.column_stack([s * R, t])


def rotation(theta):
    return np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])


def random_case(rng, n, reflect, noise):
    src = rng.uniform(0, 512, (n, 2))
    s = rng.uniform(0.3, 3.0)
    R = rotation(rng.uniform(-math.pi, math.pi))
    if reflect:  # a mirrored target: the best *proper* rotation must still be found
        R = R @ np.diag([1.0, -1.0])
    dst = s * src @ R.T + rng.uniform(-300, 300, 2) + rng.normal(0, noise, (n, 2))
    return src, dst


@pytest.mark.parametrize("seed", range(60))
def test_agrees_with_scikit_image_umeyama(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 30))
    src, dst = random_case(rng, n, reflect=seed % 2 == 1, noise=[0.0, 0.5, 5.0, 40.0][seed % 4])
    ours, theirs = ours_matrix(src, dst), skimage_matrix(src, dst)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    s, R, _ = procrustes(src, dst)
    assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-12) and s > 0


@pytest.mark.parametrize("seed", range(20))
def test_batched_subsets_agree_with_single_fits_and_scikit_image(seed):
    rng = np.random.default_rng(100 + seed)
    src, dst = random_case(rng, 17, reflect=seed % 2 == 0, noise=3.0)
    subsets = rng.random((40, 17)) < 0.4
    subsets[0] = True
    s, R, t, valid = procrustes_batch(src, dst, subsets)
    matrices = similarity_matrix(s, R, t)
    for k, subset in enumerate(subsets):
        assert valid[k] == (subset.sum() >= 2)
        if valid[k]:
            np.testing.assert_allclose(matrices[k], skimage_matrix(src[subset], dst[subset]), rtol=1e-6, atol=1e-6)
            np.testing.assert_allclose(matrices[k], ours_matrix(src[subset], dst[subset]), rtol=1e-9, atol=1e-9)
            assert np.linalg.det(R[k]) == pytest.approx(1.0, abs=1e-12)
        else:
            assert s[k] == 0 and np.isfinite(matrices[k]).all()


def test_three_dimensional_points_agree_with_scikit_image():
    rng = np.random.default_rng(7)
    src = rng.normal(size=(12, 3)) * 50
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    dst = 1.7 * src @ q.T + [3.0, -2.0, 9.0] + rng.normal(0, 1, (12, 3))
    np.testing.assert_allclose(ours_matrix(src, dst), skimage_matrix(src, dst), rtol=1e-6, atol=1e-6)


def test_noise_free_data_is_recovered_exactly_even_from_two_points():
    rng = np.random.default_rng(1)
    R_true = rotation(0.7)
    for n in (2, 3, 17):
        src = rng.uniform(0, 400, (n, 2))
        dst = 1.35 * src @ R_true.T + [40.0, -25.0]
        s, R, t = procrustes(src, dst)
        assert s == pytest.approx(1.35, rel=1e-12)
        np.testing.assert_allclose(R, R_true, atol=1e-12)
        np.testing.assert_allclose(t, [40.0, -25.0], atol=1e-9)
        np.testing.assert_allclose(s * src @ R.T + t, dst, atol=1e-9)


def test_far_from_origin_coordinates_keep_their_precision():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 50, (6, 2)) + 1e5
    dst = 0.8 * src @ rotation(-0.3).T + [1e5, 2e5]
    s, R, _, valid = procrustes_batch(src, dst, np.ones((1, 6), bool))
    assert valid[0] and s[0] == pytest.approx(0.8, rel=1e-9)
    np.testing.assert_allclose(R[0], rotation(-0.3), atol=1e-9)


def test_coincident_targets_give_scale_zero_not_nan():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    dst = np.tile([[5.0, 7.0]], (3, 1))
    s, R, t = procrustes(src, dst)
    assert s == 0.0 and np.isfinite(R).all()
    np.testing.assert_allclose(t, [5.0, 7.0])


@pytest.mark.parametrize("src, dst, message", [
    ([[1.0, 2.0]], [[3.0, 4.0]], "at least 2 point pairs"),
    (np.zeros((0, 2)), np.zeros((0, 2)), "at least 2 point pairs"),
    ([[1.0, 2.0], [1.0, 2.0]], [[0.0, 0.0], [1.0, 1.0]], "coincide"),
    ([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]], [[0.0, 0.0], [1.0, 1.0]], "same shape"),
    ([[0.0, np.nan], [1.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]], "NaN"),
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], "shape"),
    ("ab", "cd", "numbers"),
])
def test_bad_input_is_a_clear_value_error(src, dst, message):
    with pytest.raises(ValueError, match=message):
        procrustes(src, dst)


def test_batch_rejects_bad_subset_shapes():
    pts = np.zeros((4, 2))
    with pytest.raises(ValueError, match="subsets must be bool"):
        procrustes_batch(pts, pts, np.ones((3, 5), bool))
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        procrustes_batch(np.zeros((4, 3)), np.zeros((4, 3)), np.ones((1, 4), bool))
