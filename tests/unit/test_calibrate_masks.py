"""Warping conventions, pose silhouettes and the IoU score, against plain numpy references."""

import math

import numpy as np
import pytest

from tcan_core.calibrate.score import AlignmentScore, grid_size, iou, to_grid
from tcan_core.calibrate.silhouette import body_unit, pose_silhouette
from tcan_core.calibrate.warp import warp_image, warp_mask

from .synthetic import body


def similarity(s, degrees, tx, ty):
    a = math.radians(degrees)
    return np.array([[s * math.cos(a), -s * math.sin(a), tx], [s * math.sin(a), s * math.cos(a), ty]])


def apply(matrix, xy):
    return xy @ matrix[:, :2].T + matrix[:, 2]


def blob(width, height, centre, sigma=3.0):
    """Gaussian blob at a continuous (corner-origin) position: pixel (i, j) has its centre at (i+.5, j+.5)."""
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    return np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * sigma ** 2)).astype(np.float32)


def centroid(image):
    ys, xs = np.mgrid[0:image.shape[0], 0:image.shape[1]] + 0.5
    return np.array([(image * xs).sum(), (image * ys).sum()]) / image.sum()


@pytest.mark.parametrize("matrix, size", [
    (similarity(1.6, 25, 40.0, -10.0), (400, 400)),
    (similarity(0.45, -70, 60.0, 150.0), (160, 200)),
    (similarity(1.0, 0, 0.5, 0.0), (200, 300)),
])
def test_warps_move_a_point_where_the_matrix_says(matrix, size):
    point = np.array([57.3, 81.7])
    image = blob(200, 300, point, sigma=4.0)
    expected = apply(matrix, point[None])[0]
    np.testing.assert_allclose(centroid(warp_image(image[..., None], matrix, *size)[..., 0]), expected, atol=0.05)
    np.testing.assert_allclose(centroid(warp_mask(image, matrix, *size)), expected, atol=0.05)


def test_outside_the_reference_is_black_and_empty():
    image = np.ones((100, 80, 3), np.float32)
    out = warp_image(image, similarity(1.0, 0, 30.0, 0.0), 80, 100)
    assert (out[:, :29] == 0).all() and (out[:, 31:] == 1).all()
    mask = warp_mask(np.ones((100, 80), np.float32), similarity(1.0, 0, 0.0, -40.0), 80, 100)
    assert (mask[61:] == 0).all() and (mask[:59] == 1).all()


def test_bicubic_overshoot_is_clipped():
    image = np.zeros((64, 64, 3), np.float32)
    image[::2] = 1.0  # stripes make bicubic ring
    out = warp_image(image, similarity(1.3, 10, 0, 0), 64, 64)
    assert out.min() >= 0 and out.max() <= 1


def test_warp_size_is_checked():
    with pytest.raises(ValueError, match="warp size"):
        warp_image(np.zeros((4, 4, 3), np.float32), similarity(1, 0, 0, 0), 0, 10)


def numpy_warped_grid(reference_grid, reference_size, canvas_size, grid_shape, matrix):
    """Independent nearest-neighbour backward warp: each grid pixel centre -> canvas -> reference."""
    th, tw = grid_shape
    rh, rw = reference_grid.shape
    ys, xs = np.mgrid[0:th, 0:tw] + 0.5
    canvas = np.stack([xs * canvas_size[0] / tw, ys * canvas_size[1] / th], -1).reshape(-1, 2)
    linear_inv = np.linalg.inv(matrix[:, :2])
    ref = (canvas - matrix[:, 2]) @ linear_inv.T
    col = np.floor(ref[:, 0] * rw / reference_size[0]).astype(int)
    row = np.floor(ref[:, 1] * rh / reference_size[1]).astype(int)
    inside = (col >= 0) & (col < rw) & (row >= 0) & (row < rh)
    out = np.zeros(len(ref), np.uint8)
    out[inside] = reference_grid[row[inside], col[inside]]
    return out.reshape(th, tw)


@pytest.mark.parametrize("seed", range(6))
def test_alignment_score_matches_a_numpy_iou(seed):
    rng = np.random.default_rng(seed)
    ref_size, canvas = (384, 512), (640, 360)
    pts = body((190.0, 140.0))
    ref_grid = to_grid(pose_silhouette(np.column_stack([pts, np.ones(18)]), *ref_size), *grid_size(*ref_size))
    matrix = similarity(rng.uniform(0.5, 1.5), rng.uniform(-40, 40), rng.uniform(0, 300), rng.uniform(-100, 50))
    target_pts = apply(similarity(1.1, 5, 200.0, -40.0), pts)
    gw, gh = grid_size(*canvas)
    target = pose_silhouette(np.column_stack([target_pts * [gw / canvas[0], gh / canvas[1]], np.ones(18)]), gw, gh)
    score = AlignmentScore(ref_grid, ref_size, target, canvas)
    value, area = score(matrix)
    warped = numpy_warped_grid(ref_grid, ref_size, canvas, target.shape, matrix)
    union = np.count_nonzero(warped | target)
    assert abs(area - np.count_nonzero(warped)) <= 0.02 * max(1, area)
    assert value == pytest.approx(np.count_nonzero(warped & target) / union, abs=0.01)
    ious, areas = score.many(np.stack([matrix, matrix]))
    assert ious[0] == ious[1] == value and areas[0] == area


def test_iou_of_empty_masks_is_zero():
    empty = np.zeros((8, 8), np.uint8)
    assert iou(empty, empty) == 0.0
    full = np.ones((8, 8), np.uint8)
    assert iou(full, full) == 1.0 and iou(full, empty) == 0.0


def test_grid_keeps_the_aspect_ratio():
    assert grid_size(512, 512) == (128, 128)
    assert grid_size(384, 512) == (96, 128)
    assert grid_size(1920, 1080) == (128, 72)


def with_confidence(xy, visible=None):
    c = np.ones(len(xy)) if visible is None else np.asarray(visible, float)
    return np.column_stack([xy, c])


def test_silhouette_covers_every_visible_joint_and_is_person_sized():
    pts = body((200.0, 120.0))
    mask = pose_silhouette(with_confidence(pts), 400, 500)
    assert set(np.unique(mask)) == {0, 1}
    for x, y in pts:
        assert mask[int(y), int(x)] == 1
    area = mask.sum()
    unit = body_unit(with_confidence(pts))
    assert 1.0 * unit ** 2 < area < 4.0 * unit ** 2  # a thick stick figure, not a blob or a wire


def test_silhouette_is_empty_without_two_visible_joints():
    pts = body()
    assert pose_silhouette(with_confidence(pts, np.zeros(18)), 100, 100).sum() == 0
    one = np.zeros(18)
    one[1] = 1
    assert pose_silhouette(with_confidence(pts, one), 100, 100).sum() == 0
    nan = with_confidence(pts)
    nan[:, :2] = np.nan
    assert pose_silhouette(nan, 100, 100).sum() == 0


def test_body_unit_scales_with_the_pose_and_ignores_rotation():
    pts = body((200.0, 150.0))
    unit = body_unit(with_confidence(pts))
    assert unit > 0
    for s, deg in ((0.5, 0), (2.0, 0), (1.0, 60), (1.3, -135)):
        moved = apply(similarity(s, deg, 17.0, 5.0), pts)
        assert body_unit(with_confidence(moved)) == pytest.approx(s * unit, rel=1e-9)


@pytest.mark.parametrize("s, deg", [(0.6, 30), (1.8, -20), (1.0, 180)])
def test_silhouette_transforms_with_its_pose(s, deg):
    pts = body((200.0, 150.0))
    matrix = similarity(s, deg, 0.0, 0.0)
    matrix[:, 2] = [256.0, 200.0] - apply(matrix, pts[1:2])[0]  # the neck lands at (256, 200)
    direct = pose_silhouette(with_confidence(apply(matrix, pts)), 512, 512)
    warped = warp_mask(pose_silhouette(with_confidence(pts), 512, 512), matrix, 512, 512, nearest=True)
    assert iou(direct, warped) > 0.9
