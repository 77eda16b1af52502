"""Procrustes calibration of a reference image onto a whole driving pose sequence (TPC 4.1-4.2).

Canvases: the reference pose is mapped onto the reference image by normalised coordinates (per
axis), so a pose detected on a resized copy still fits. The transforms map reference-image pixels
to the driving canvas's pixels (the first driving frame's canvas; later frames with another canvas
are mapped onto it per axis). Both are square-pixel spaces, so a similarity fitted there keeps
the reference person's proportions even when the reference image and the driving canvas differ in
size and aspect ratio (a fit in normalised coordinates would stretch the person).

"Uncalibrated" means what a model sees without TPC: the reference image fitted into the canvas
(frame_fit.py, the rule Sample Long Video places the reference by).
It is the baseline of the IoU-before figure and the last-resort fallback.

A frame cannot be calibrated when its driving pose has no person, fewer than 2 keypoints in
common with the reference, an empty target person mask, no plausible fit (coincident keypoints,
or a zoom beyond subset.MAX_ZOOM), or when the best fit puts the whole reference person off the
canvas. Such a frame reuses the nearest calibrated frame's transform (the earlier one on a tie),
or the uncalibrated resize when no frame could be calibrated; it is flagged and reported, never
NaN.
"""

import cv2
import numpy as np

from ..pose.keypoints import frames_from_pose_keypoint
from ..pose.tracking import largest_person, track_person
from .calibration import Calibration
from .propagation import DEFAULT_GROUPS, PropagationGroups
from .score import AlignmentScore, grid_size, to_grid
from .silhouette import pose_silhouette
from .subset import MAX_ZOOM, TPC_KEYPOINTS, best_subset, common_keypoints, describe_subset
from ..frame_fit import fit_matrix

PROGRESS_CHUNK = 32  # frames between progress callbacks
SUPERSAMPLE = 4      # target silhouettes are drawn at 4x the scoring grid and area-averaged down


def _reference_image(image):
    """IMAGE-like array -> float32 [H, W, C] in 0..1 (first image of a batch)."""
    arr = np.asarray(image)
    if arr.ndim == 4:
        if not len(arr):
            raise ValueError("the reference image batch is empty")
        arr = arr[0]
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or not 1 <= arr.shape[2] <= 4 or min(arr.shape[:2]) < 1:
        raise ValueError(f"the reference image must be [H, W, C] (or a batch [B, H, W, C]) with 1-4 channels, "
                         f"got shape {np.shape(image)}")
    scale = 255.0 if arr.dtype == np.uint8 else 1.0
    arr = arr.astype(np.float32) / scale
    if not np.isfinite(arr).all():
        raise ValueError("the reference image contains NaN or infinite values")
    return np.clip(arr, 0.0, 1.0)


def _masks(masks, name):
    """MASK-like array -> float32 [N, H, W] (a single [H, W] mask becomes N = 1)."""
    arr = np.asarray(masks, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 4 and arr.shape[-1] == 1:  # [N, H, W, 1]
        arr = arr[..., 0]
    if arr.ndim != 3 or min(arr.shape) < 1:
        raise ValueError(f"{name} must be a MASK [N, H, W] (or one [H, W] mask), got shape {np.shape(masks)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _scaled(body, sx, sy):
    out = body.copy()
    out[:, 0] *= sx
    out[:, 1] *= sy
    return out


def _reference_body(reference_pose, width, height, notes):
    frames = frames_from_pose_keypoint(reference_pose)
    if not frames:
        raise ValueError("the reference pose has no frames")
    frame = frames[0]
    index = largest_person(frame)
    if index is None:
        raise ValueError("no usable person in the reference pose (it needs a neck or both shoulders); "
                         "connect the pose of the reference image")
    if len(frame.people) > 1:
        notes.append(f"reference: {len(frame.people)} people; calibrating the largest")
    if abs(frame.width / frame.height - width / height) > 0.02 * width / height:
        notes.append(f"reference pose canvas {frame.width}x{frame.height} and reference image {width}x{height} "
                     "differ in aspect ratio; keypoints were scaled per axis onto the image")
    body = _scaled(frame.people[index].body, width / frame.width, height / frame.height)
    if (body[list(TPC_KEYPOINTS), 2] > 0).sum() < 2:
        raise ValueError("the reference pose shows fewer than 2 of the 17 body/face keypoints TPC aligns; "
                         "cannot calibrate")
    return body


def _driving_bodies(driving_pose, notes):
    """(bodies [L, 18, 3] on the first frame's canvas, person found [L], canvas (W, H))."""
    frames = frames_from_pose_keypoint(driving_pose)
    if not frames:
        raise ValueError("the driving pose has no frames")
    width, height = frames[0].width, frames[0].height
    chosen, track_notes = track_person(frames)
    notes.extend(track_notes)
    bodies = np.zeros((len(frames), 18, 3))
    for i, (frame, index) in enumerate(zip(frames, chosen)):
        if index is not None:
            bodies[i] = _scaled(frame.people[index].body, width / frame.width, height / frame.height)
    if any(f.width != width or f.height != height for f in frames):
        notes.append(f"driving frames have different canvas sizes; all were mapped onto the first ({width}x{height})")
    return bodies, np.array([c is not None for c in chosen]), (width, height)


def _nearest(good, index):
    """Index of the nearest True in good (the earlier one on a tie)."""
    candidates = np.flatnonzero(good)
    return int(candidates[np.argmin(np.abs(candidates - index))])


def calibrate(reference_image, reference_pose, driving_pose, *, reference_mask=None, driving_masks=None,
              subset_search=True, num_groups=DEFAULT_GROUPS, progress=None):
    """Fit the TPC transform of the reference onto every driving frame -> Calibration.

    reference_image: [H, W, C] (or a batch; the first is used), float 0..1 or uint8.
    reference_pose: POSE_KEYPOINT of the reference image (its first frame).
    driving_pose: POSE_KEYPOINT sequence (retargeted or not) on any canvas.
    reference_mask: optional [H, W] person mask of the reference (1 = person; any size, resized).
    driving_masks: optional [L, H, W] target person masks, one per driving frame (any size).
    Without masks, person silhouettes are drawn from the poses (silhouette.py).
    subset_search: search TPC's optimal keypoint subset (subset.py); off = all common keypoints.
    num_groups: M, the Iterative Propagation groups stored in the result.
    progress: optional callable(n) told after every chunk of n frames.
    """
    notes = []
    image = _reference_image(reference_image)
    ref_h, ref_w = image.shape[:2]
    ref_body = _reference_body(reference_pose, ref_w, ref_h, notes)
    bodies, has_person, (width, height) = _driving_bodies(driving_pose, notes)
    count = len(bodies)
    groups = PropagationGroups.split(count, num_groups)

    if reference_mask is not None:
        ref_mask = _masks(reference_mask, "the reference mask")[0]
        if ref_mask.shape != (ref_h, ref_w):
            ref_mask = cv2.resize(ref_mask, (ref_w, ref_h), interpolation=cv2.INTER_LINEAR)
        ref_mask = np.clip(ref_mask, 0.0, 1.0)
        if not (ref_mask > 0.5).any():
            raise ValueError("the reference mask is empty (no pixel above 0.5); connect a mask where 1 = the person")
    else:
        ref_mask = pose_silhouette(ref_body, ref_w, ref_h, supersample=2).astype(np.float32)
    ref_grid = to_grid(ref_mask, *grid_size(ref_w, ref_h))
    if not ref_grid.any():
        raise ValueError("the reference person mask is empty at the scoring resolution (a tiny mask, or a "
                         "reference pose whose keypoints all coincide); cannot calibrate")

    grid_w, grid_h = grid_size(width, height)
    if driving_masks is not None:
        driving_masks = _masks(driving_masks, "the driving masks")
        if len(driving_masks) != count:
            raise ValueError(f"the driving masks have {len(driving_masks)} frame(s) but the driving pose has {count}; "
                             "connect one person mask per driving frame (or none)")

    def target_grid(i):
        if driving_masks is not None:
            return to_grid(driving_masks[i], grid_w, grid_h)
        return pose_silhouette(_scaled(bodies[i], grid_w / width, grid_h / height), grid_w, grid_h,
                               supersample=SUPERSAMPLE)

    uncalibrated = fit_matrix(ref_w, ref_h, width, height)
    matrices = np.repeat(uncalibrated[None], count, axis=0)
    iou_before, iou_after = np.zeros(count), np.zeros(count)
    subsets, names = [()] * count, [""] * count
    reasons, scores = {}, {}
    for i in range(count):
        score = AlignmentScore(ref_grid, (ref_w, ref_h), target_grid(i), (width, height))
        if score.target_area:
            iou_before[i] = score(uncalibrated)[0]
        common = common_keypoints(ref_body, bodies[i])
        choice, reason = _frame_choice(ref_body, bodies[i], has_person[i], common, score, subset_search)
        if reason:
            reasons[i], scores[i] = reason, score
        else:
            matrices[i], iou_after[i] = choice.matrix, choice.iou
            subsets[i] = tuple(int(j) for j in np.flatnonzero(choice.subset))
            names[i] = describe_subset(choice.subset, common)
        if progress is not None and ((i + 1) % PROGRESS_CHUNK == 0 or i + 1 == count):
            progress((i % PROGRESS_CHUNK) + 1)

    fallback = np.zeros(count, bool)
    fallback[list(reasons)] = True
    source = np.arange(count)
    for i, score in scores.items():
        source[i] = -1 if fallback.all() else _nearest(~fallback, i)
        if source[i] >= 0:
            matrices[i] = matrices[source[i]]
        iou_after[i] = score(matrices[i])[0] if score.target_area else 0.0
    return Calibration(
        reference_image=image, reference_mask=ref_mask, width=width, height=height, matrices=matrices,
        iou_before=iou_before, iou_after=iou_after, subsets=subsets, subset_names=names, fallback=fallback,
        source=source, reasons=reasons, groups=groups, subset_search=bool(subset_search),
        mask_source=_mask_source(reference_mask is not None, driving_masks is not None), notes=tuple(notes),
        driving_bodies=bodies.astype(np.float32), driving_masks=driving_masks)


def _frame_choice(ref_body, body, has_person, common, score, search):
    """(SubsetChoice, None) for a frame that can be calibrated, else (None, the reason it cannot)."""
    if not has_person:
        return None, "no person"
    if common.sum() < 2:
        return None, f"{int(common.sum())} keypoint(s) in common with the reference"
    if not score.target_area:
        return None, "empty target person mask"
    choice = best_subset(ref_body[:, :2], body[:, :2], common, score, search)
    if choice is None:
        return None, f"no plausible fit (coincident keypoints or a zoom beyond {MAX_ZOOM:g}x)"
    if not choice.area:
        return None, "the fit puts the reference person off the canvas"
    return choice, None


def _mask_source(reference_given, driving_given):
    reference = "input mask" if reference_given else "pose silhouette"
    driving = "input masks" if driving_given else "pose silhouettes"
    return f"{reference} for the reference, {driving} for the driving frames"
