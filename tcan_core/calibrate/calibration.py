"""The result of Procrustes calibration: the TCAN_CALIBRATION value that the sampler consumes.

It stores the reference image and mask once plus one 2x3 matrix per frame (a few kB for 1,000
frames) and warps on demand, at whatever size the sampler generates: calibrated images for 1,000
frames at 512x512 would otherwise be 3 GB of float32.
"""

from collections import Counter
from dataclasses import dataclass

import cv2
import numpy as np

from .propagation import PropagationGroups
from .silhouette import pose_silhouette
from ..frame_fit import fit_matrix, fit_image, fit_points
from ..geometry import compose
from .warp import warp_image, warp_mask


@dataclass
class Calibration:
    """Per-frame similarity transforms of the reference onto a pose sequence (TPC).

    reference_image: float32 [Hr, Wr, C] in 0..1, the reference the matrices start from.
    reference_mask: float32 [Hr, Wr] in 0..1, the reference person (input mask or pose silhouette).
    width, height: the canvas the matrices map into (the driving pose's canvas).
    matrices: float64 [L, 2, 3]: reference-image pixels -> canvas pixels (corner-origin
        coordinates, see warp.py); x_canvas = M[:, :2] @ x_ref + M[:, 2].
    iou_before, iou_after: float [L]: IoU of reference and target person masks on the scoring grid
        without calibration (the reference resized to the canvas) and with the frame's transform;
        0 where the target mask is empty.
    subsets: per frame, the OpenPose-18 indices of the keypoints the fit used (() for fallbacks).
    subset_names: per frame, "all" (every common keypoint) or the body parts used ("" for fallbacks).
    fallback: bool [L]: True where the frame could not be calibrated and reuses `source[i]`'s
        transform (source -1: no frame could be calibrated; the uncalibrated resize is used).
    reasons: {frame: why it fell back}.
    groups: the Iterative Propagation groups (M groups of consecutive frames).
    driving_bodies: float [L, 18, 3], the tracked driving person per frame on the canvas (zeros where
        none), for the pose silhouettes that stand in for missing driving masks.
    driving_masks: optional float32 [L, H, W] in 0..1, the user's target person masks (any size).
    """

    reference_image: np.ndarray
    reference_mask: np.ndarray
    width: int
    height: int
    matrices: np.ndarray
    iou_before: np.ndarray
    iou_after: np.ndarray
    subsets: list
    subset_names: list
    fallback: np.ndarray
    source: np.ndarray
    reasons: dict
    groups: PropagationGroups
    subset_search: bool = True
    mask_source: str = "pose silhouette for the reference, pose silhouettes for the driving frames"
    notes: tuple = ()
    driving_bodies: np.ndarray = None
    driving_masks: np.ndarray = None

    def __len__(self):
        return len(self.matrices)

    def __repr__(self):
        return (f"Calibration({len(self)} frames onto {self.width}x{self.height}, "
                f"{int(self.fallback.sum())} fallback(s), {self.groups.num_groups} propagation groups)")

    def matrix(self, index, width=None, height=None):
        """2x3 matrix of frame `index` into an output of width x height (default: the canvas).

        The canvas fits an output of another size the way rendered poses do (frame_fit.py), so the
        calibrated image stays aligned with the rendered pose image."""
        width, height = width or self.width, height or self.height
        return compose(fit_matrix(self.width, self.height, width, height), self.matrices[index])

    def warp_image(self, index, width=None, height=None):
        """float32 [h, w, C]: the calibrated reference image of frame `index`."""
        width, height = int(width or self.width), int(height or self.height)
        return warp_image(self.reference_image, self.matrix(index, width, height), width, height)

    def warp_mask(self, index, width=None, height=None):
        """float32 [h, w]: the calibrated reference person mask of frame `index` (soft edges)."""
        width, height = int(width or self.width), int(height or self.height)
        return warp_mask(self.reference_mask, self.matrix(index, width, height), width, height)

    def driving_mask(self, index, width=None, height=None):
        """float32 [h, w] in 0..1: the driving (target) person of frame `index` at width x height (the
        user's mask resized, else the pose silhouette; empty when unknown). The public TPC code's
        attention masks let only the queries inside it see calibrated tokens."""
        width, height = int(width or self.width), int(height or self.height)
        if self.driving_masks is not None:
            mask = np.asarray(self.driving_masks[index], dtype=np.float32)
            if mask.shape != (height, width):
                mask = fit_image(mask, width, height, cv2.INTER_LINEAR)
            return np.clip(mask, 0.0, 1.0)
        if self.driving_bodies is None:
            return np.zeros((height, width), np.float32)
        body = fit_points(self.driving_bodies[index], (self.width, self.height), (width, height))
        return pose_silhouette(body, width, height, supersample=2).astype(np.float32)

    def warp_images(self, indices=None, width=None, height=None):
        """float32 [n, h, w, C] for the given frames (default: all). Mind the memory for many frames."""
        indices = range(len(self)) if indices is None else indices
        return np.stack([self.warp_image(i, width, height) for i in indices])

    def warp_masks(self, indices=None, width=None, height=None):
        indices = range(len(self)) if indices is None else indices
        return np.stack([self.warp_mask(i, width, height) for i in indices])

    def person_images(self, indices=None, width=None, height=None):
        """float32 [n, h, w, C]: the calibrated images with the background screened out, as TPC encodes
        them: the reference times its person mask, warped (black elsewhere). Screening before warping
        keeps the interpolation from pulling background pixels into the person's edge."""
        indices = range(len(self)) if indices is None else indices
        width, height = int(width or self.width), int(height or self.height)
        person = self.reference_image * self.reference_mask[..., None]
        return np.stack([warp_image(person, self.matrix(i, width, height), width, height) for i in indices])

    def scale_and_angle(self):
        """(scale [L], rotation in degrees [L]) of every frame's transform, for reports."""
        a, b = self.matrices[:, 0, 0], self.matrices[:, 1, 0]
        return np.hypot(a, b), np.degrees(np.arctan2(b, a))

    def summary(self):
        """A few lines for people: IoU before/after, subsets used, fallbacks, groups."""
        n = len(self)
        good = ~self.fallback
        search = "on" if self.subset_search else "off"
        lines = [(f"Procrustes calibration of {n} frame(s) onto a {self.width}x{self.height} canvas; "
                  f"person masks: {self.mask_source}; subset search {search}.")]
        if good.any():
            lines.append(f"Mean IoU of reference and target person: {self.iou_before[good].mean():.3f} before, "
                         f"{self.iou_after[good].mean():.3f} after calibration ({int(good.sum())} calibrated frame(s)).")
            scale, angle = self.scale_and_angle()
            lines.append(f"Scale {scale[good].min():.2f}..{scale[good].max():.2f}, "
                         f"rotation {angle[good].min():+.1f}..{angle[good].max():+.1f} degrees.")
        if self.subset_search and good.any():
            used = Counter(self.subset_names[i] for i in np.flatnonzero(good))
            shown = ", ".join(f"{name} x{count}" for name, count in used.most_common(4))
            lines.append(f"Keypoint subsets: {shown}{', ...' if len(used) > 4 else ''}.")
        fell = np.flatnonzero(self.fallback)
        if len(fell):
            shown = ", ".join(f"{i} ({self.reasons.get(int(i), '?')})" for i in fell[:5])
            more = f" and {len(fell) - 5} more" if len(fell) > 5 else ""
            what = ("reuse the nearest calibrated frame's transform" if good.any()
                    else "use the uncalibrated reference (no frame could be calibrated)")
            lines.append(f"{len(fell)} frame(s) fell back and {what}: {shown}{more}.")
        else:
            lines.append("No frame fell back.")
        sizes = np.diff(self.groups.bounds)
        lines.append(f"Iterative propagation: {self.groups.num_groups} group(s) of "
                     f"{sizes.min()}{'' if sizes.min() == sizes.max() else f'-{sizes.max()}'} frame(s).")
        lines.extend(self.notes)
        return "\n".join(lines)
