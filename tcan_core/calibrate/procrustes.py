"""Procrustes analysis (TPC eq. 1-2): the least-squares similarity transform between point sets.

Convention (DESIGN.md section 4): dst ≈ s * src @ R.T + t, i.e. y = s R x + t per point, with R a
proper rotation (det R = +1). A mirrored fit would warp the reference into its mirror image, so
the reflection is excluded (Umeyama's fix), as the paper and the public TPC code do.

`procrustes` is the textbook SVD form for any dimension. `procrustes_batch` fits many keypoint
subsets of the same 2D point pairs at once with the closed form that exists in 2D (treat points as
complex numbers: the best s·e^{iθ} is Σ conj(x̃)·ỹ / Σ|x̃|²), which is what makes the subset search
cheap; the tests check that both agree with an independent implementation.
"""

import numpy as np

MIN_POINTS = 2  # a 2D similarity has 4 degrees of freedom: two distinct points fix it exactly


def _as_points(values, name):
    try:
        pts = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"procrustes: {name} must be an array of numbers [N, d]") from None
    if pts.ndim != 2 or pts.shape[1] < 2:
        raise ValueError(f"procrustes: {name} must have shape [N, d] with d >= 2, got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"procrustes: {name} contains NaN or infinite coordinates")
    return pts


def _coincident(centred_sq_sum, points):
    """True when the points are (numerically) all the same point."""
    extent = max(1.0, float(np.abs(points).max()))
    return centred_sq_sum <= 1e-12 * extent * extent * len(points)


def procrustes(src, dst):
    """Least-squares similarity src -> dst: (s, R, t) with dst ≈ s * src @ R.T + t, det R = +1.

    src, dst: [N, d] (d = 2 for poses), N >= 2, src not all one point. Exact on noise-free data
    (two distinct points are enough). When the dst points all coincide the best fit collapses
    everything onto them: s = 0, R = I. Raises ValueError on fewer than 2 pairs, mismatched shapes,
    non-finite coordinates or coincident src points.
    """
    src = _as_points(src, "src")
    dst = _as_points(dst, "dst")
    if src.shape != dst.shape:
        raise ValueError(f"procrustes: src and dst must have the same shape, got {src.shape} and {dst.shape}")
    if len(src) < MIN_POINTS:
        raise ValueError(f"procrustes needs at least {MIN_POINTS} point pairs, got {len(src)}")
    mu_x, mu_y = src.mean(axis=0), dst.mean(axis=0)
    x, y = src - mu_x, dst - mu_y
    var_x = float((x * x).sum())
    if _coincident(var_x, src):
        raise ValueError("procrustes: the src points all coincide, so scale and rotation are undefined")
    u, sigma, vt = np.linalg.svd(x.T @ y)          # K = X̃ᵀỸ = U Σ Vᵀ
    z = np.ones(len(sigma))
    z[-1] = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0  # reflection fix: det R = +1
    rotation = vt.T @ np.diag(z) @ u.T              # R = V Z Uᵀ
    scale = float((sigma * z).sum() / var_x)        # tr(R K) / ‖X̃‖²
    translation = mu_y - scale * rotation @ mu_x
    return scale, rotation, translation


def procrustes_batch(src, dst, subsets):
    """Fit one 2D similarity per keypoint subset, all at once.

    src, dst: [N, 2]; subsets: bool [K, N] (which pairs each fit uses). Returns s [K], R [K, 2, 2],
    t [K, 2] (same convention as `procrustes`) and valid [K]: False where a subset has fewer than 2
    pairs or coincident src points; those rows hold s = 0, R = I, t = 0 (never NaN).
    """
    src = _as_points(src, "src")
    dst = _as_points(dst, "dst")
    if src.shape != dst.shape or src.shape[1] != 2:
        raise ValueError(f"procrustes_batch: src and dst must both be [N, 2], got {src.shape} and {dst.shape}")
    w = np.asarray(subsets, dtype=bool)
    if w.ndim != 2 or w.shape[1] != len(src):
        raise ValueError(f"procrustes_batch: subsets must be bool [K, {len(src)}], got shape {w.shape}")
    w = w.astype(np.float64)
    # Centre on the overall means first so the moment sums below do not lose precision.
    origin_x, origin_y = src.mean(axis=0), dst.mean(axis=0)
    x, y = src - origin_x, dst - origin_y
    n = w.sum(axis=1)
    safe_n = np.maximum(n, 1.0)
    mu_x, mu_y = (w @ x) / safe_n[:, None], (w @ y) / safe_n[:, None]
    var_x = w @ (x * x).sum(axis=1) - n * (mu_x * mu_x).sum(axis=1)
    dot = w @ (x * y).sum(axis=1) - n * (mu_x * mu_y).sum(axis=1)
    cross = w @ (x[:, 0] * y[:, 1] - x[:, 1] * y[:, 0]) - n * (mu_x[:, 0] * mu_y[:, 1] - mu_x[:, 1] * mu_y[:, 0])
    extent = max(1.0, float(np.abs(x).max(initial=0.0)))
    valid = (n >= MIN_POINTS) & (var_x > 1e-12 * extent * extent * safe_n)
    safe_var = np.where(valid, var_x, 1.0)
    scale = np.where(valid, np.hypot(dot, cross) / safe_var, 0.0)
    angle = np.where(valid, np.arctan2(cross, dot), 0.0)
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    translation = mu_y - scale[:, None] * np.einsum("kij,kj->ki", rotation, mu_x)
    translation = np.where(valid[:, None], translation + origin_y
                           - scale[:, None] * np.einsum("kij,j->ki", rotation, origin_x), 0.0)
    return scale, rotation, translation, valid


def similarity_matrix(scale, rotation, translation):
    """(s, R, t) -> the 2x3 affine matrix [s·R | t] (batched over leading axes)."""
    scale = np.asarray(scale, dtype=np.float64)
    linear = scale[..., None, None] * np.asarray(rotation, dtype=np.float64)
    return np.concatenate([linear, np.asarray(translation, dtype=np.float64)[..., :, None]], axis=-1)
