"""TCAN's per-limb pose retargeting (paper Alg. 1, as the official code runs it), made robust.

Every driving frame keeps its limb *directions* and takes the reference person's limb *lengths*:

1. Head: the nose is moved along neck->nose so that the head size (the "pivot", |nose - neck|)
   equals the reference's; eyes and ears move with it.
2. Each bone (parent -> joint), neck outwards in TCAN's stage order, is rescaled to the reference
   length times a foreshortening factor ff = clip(|bone now| / |bone in the anchor frame|, 0, 1.1);
   the joint moves with all its descendants, so bones further out keep their direction.
   Reference lengths are symmetrised (the longer of each left/right pair), as TCAN does.
3. The neck is placed at the reference's neck plus the driving neck's motion since the anchor
   frame, scaled to the reference's size (position="reference", default), or it follows the
   driving person on the canvas at the driving person's size (position="driving").

On ordinary input this is the official computation without its int64 truncation of every
displacement (tcan.md B9). Where the official code breaks, this one does the following instead:
- a missing driving joint stays missing (c = 0); it is still carried along with its ancestors;
- a joint whose parent is missing keeps its offset from the nearest present ancestor, scaled by
  the reference/driving size ratio;
- a bone missing (or shorter than 0.1 head sizes) on both sides of the reference keeps the driving
  person's proportion, scaled by the size ratio;
- a bone of zero length or missing in the anchor frame takes its length from the nearest frame
  where it is seen (no inf/NaN foreshortening);
- a frame with no usable person (no neck and not both shoulders) repeats the nearest retargeted
  frame before it (after it, at the start); a sequence with none at all is an error;
- several people: the largest is used in the reference, and the driving sequence follows one
  person (see tracking.py); the notes say so;
- hands and face follow their wrist / nose, scaled by the size ratio (the official code drops them);
  a hand whose wrist is missing in a frame is dropped in that frame.
"""

from dataclasses import dataclass

import numpy as np

from .keypoints import Person, PoseFrame, frames_from_pose_keypoint, frames_to_pose_keypoint
from .skeleton import (DESCENDANTS, L_WRIST, NECK, NOSE, NUM_BODY_JOINTS, PARENT, R_WRIST,
                       STAGES, SYMMETRIC_PAIRS)
from .smoothing import smooth_tracks
from .tracking import body_with_neck, largest_person, track_person

MIN_BONE_RATIO = 0.1      # TCAN skips bones shorter than this many head sizes
MAX_FORESHORTENING = 1.1  # TCAN's clip of |bone now| / |bone at anchor|
EPS = 1e-6
POSITIONS = ("reference", "driving")


@dataclass
class RetargetResult:
    frames: list   # POSE_KEYPOINT, one dict per driving frame, reference canvas, pixels
    notes: list    # human-readable remarks about what was chosen or filled in


_PARENTS = np.array([max(p, 0) for p in PARENT])  # the neck points at itself (length 0, never used)


def _bone_lengths(bodies):
    """bodies [F, 18, 3] -> |joint - parent| [F, 18]; NaN where either end is missing or for the neck."""
    lengths = np.linalg.norm(bodies[:, :, :2] - bodies[:, _PARENTS, :2], axis=-1)
    seen = (bodies[:, :, 2] > 0) & (bodies[:, _PARENTS, 2] > 0)
    seen[:, NECK] = False
    return np.where(seen, lengths, np.nan)


def _pivots(bodies):
    """Head size |nose - neck| per frame [F], NaN where either is missing or they coincide."""
    lengths = _bone_lengths(bodies)[:, NOSE]
    return np.where(lengths > EPS, lengths, np.nan)


def _nearest_finite(values, index):
    """values [F, ...]: for each trailing entry, the finite value in the frame nearest to index."""
    order = np.argsort(np.abs(np.arange(len(values)) - index), kind="stable")
    out = np.full(values.shape[1:], np.nan)
    for t in order:
        fill = np.isnan(out) & np.isfinite(values[t])
        out[fill] = values[t][fill]
    return out


def _reference_lengths(ref_body, ref_pivot, symmetric):
    lengths = _bone_lengths(ref_body[None])[0]
    if symmetric:
        for a, b in SYMMETRIC_PAIRS:
            pair = lengths[[a, b]]
            if np.isfinite(pair).any():
                lengths[a] = lengths[b] = np.nanmax(pair)
    lengths[lengths < MIN_BONE_RATIO * ref_pivot] = np.nan  # too foreshortened to trust
    return lengths


def _ancestor_chain(joint):
    chain, a = [], PARENT[joint]
    while a >= 0:
        chain.append(a)
        a = PARENT[a]
    return chain


def _retarget_bodies(points, present, ref_lengths, anchor_lengths, ref_pivot, size_ratio):
    """Bodies [F, 18, 2] (driving pixels) -> the same bodies with the reference's limb lengths."""
    out = points.copy()
    frames = np.arange(len(out))

    def move(joint, displacement, where):
        displacement = np.where(where[:, None], displacement, 0.0)
        out[:, (joint,) + DESCENDANTS[joint]] += displacement[:, None, :]

    # Head step: scale neck->nose to the reference head size (unless the nose sits on the neck).
    head = out[:, NOSE] - out[:, NECK]
    pivot = np.linalg.norm(head, axis=-1)
    with np.errstate(divide="ignore"):
        head_ratio = np.where(pivot > EPS, ref_pivot / np.maximum(pivot, EPS), np.inf)
    head_ratio = np.where(head_ratio > size_ratio / MIN_BONE_RATIO, size_ratio, head_ratio)
    move(NOSE, head * (head_ratio - 1.0)[:, None], present[:, NOSE])

    for stage in STAGES:
        for j in stage:
            chain = _ancestor_chain(j)
            ancestor = np.array(chain)[np.argmax(present[:, chain], axis=1)]  # nearest present one
            bone = out[:, j] - out[frames, ancestor]
            length, anchor = np.linalg.norm(bone, axis=-1), anchor_lengths[j]
            target = ref_lengths[j] if np.isfinite(ref_lengths[j]) else anchor * size_ratio
            factor = np.full(len(out), size_ratio - 1.0)  # fallback: keep the offset, scaled
            if np.isfinite(anchor) and anchor > EPS and np.isfinite(target):
                with np.errstate(divide="ignore", invalid="ignore"):
                    scaled = np.where(length <= MAX_FORESHORTENING * anchor, target / anchor - 1.0,
                                      MAX_FORESHORTENING * target / length - 1.0)
                # as TCAN: a bone shorter than 0.1 head sizes has no reliable direction; left as is
                scaled = np.where(length < MIN_BONE_RATIO * ref_pivot, 0.0, scaled)
                factor = np.where(ancestor == PARENT[j], scaled, factor)
            move(j, bone * factor[:, None], present[:, j])
    return out


def _follow(points, old_root, new_root, scale):
    """Move a part rigidly with its root joint, scaled about it (hands, face)."""
    if points is None:
        return None
    out = points.copy()
    vis = out[:, 2] > 0
    out[vis, :2] = new_root + (out[vis, :2] - old_root) * scale
    return out


def _drop(points):
    return None if points is None else np.zeros_like(points)


def retarget_frames(reference, driving, *, anchor_frame=0, position="reference", smoothing=0.0,
                    symmetric=True):
    """Retarget driving poses onto the reference person's proportions.

    reference: POSE_KEYPOINT (its first frame is used); driving: POSE_KEYPOINT sequence.
    anchor_frame: driving frame whose limb lengths count as unforeshortened (TCAN: frame 0).
    position: "reference" keeps the reference's place and size on its canvas; "driving" follows
    the driving person's place and size (driving canvas fitted into the reference canvas).
    smoothing: Gaussian sigma in frames applied to the driving keypoints first (0 = off).
    Returns RetargetResult(frames in the reference canvas, in pixels; notes).
    """
    if position not in POSITIONS:
        raise ValueError(f"position must be one of {POSITIONS}, got {position!r}")
    if not np.isfinite(smoothing) or smoothing < 0:
        raise ValueError(f"smoothing must be a sigma in frames >= 0, got {smoothing!r}")
    notes = []
    ref_frames = frames_from_pose_keypoint(reference)
    if not ref_frames:
        raise ValueError("the reference pose is empty; give one frame with the reference person")
    if len(ref_frames) > 1:
        notes.append(f"reference: {len(ref_frames)} frames given; used the first")
    ref_frame = ref_frames[0]
    ref_index = largest_person(ref_frame)
    if ref_index is None:
        raise ValueError(
            "no usable person in the reference pose (a person needs a neck or both shoulders); "
            "run the pose detector on the reference image and check it finds the person")
    if len(ref_frame.people) > 1:
        notes.append(f"reference: {len(ref_frame.people)} people; used person {ref_index} (the largest)")
    ref_person = ref_frame.people[ref_index]
    ref_body = body_with_neck(ref_person)
    ref_pivot = _pivots(ref_body[None])[0]
    if not np.isfinite(ref_pivot):
        raise ValueError(
            "the reference pose has no visible nose and neck, so its head size is unknown; "
            "use a reference image where the face is visible")

    drv_frames = frames_from_pose_keypoint(driving)
    if not drv_frames:
        raise ValueError("the driving pose sequence is empty; give at least one frame")
    num_frames = len(drv_frames)
    if not (-num_frames <= int(anchor_frame) < num_frames):
        raise ValueError(f"anchor_frame {anchor_frame} is outside the driving sequence (0..{num_frames - 1}); "
                         "pick a frame in that range (TCAN uses 0)")
    anchor_frame = int(anchor_frame) % num_frames
    chosen, track_notes = track_person(drv_frames)
    notes += track_notes
    with_person = [t for t, i in enumerate(chosen) if i is not None]
    if not with_person:
        raise ValueError("no usable person in any driving frame (a person needs a neck or both shoulders); run the "
                         "pose detector on the driving video and check that it finds the person")
    missing = [t for t, i in enumerate(chosen) if i is None]
    if missing:
        notes.append(f"driving: no person in {len(missing)} frame(s) ({_ranges(missing)}); "
                     "they repeat the nearest retargeted frame")

    persons = [drv_frames[t].people[i] if i is not None else None for t, i in enumerate(chosen)]
    bodies = np.zeros((num_frames, NUM_BODY_JOINTS, 3))
    for t, p in enumerate(persons):
        if p is not None:
            bodies[t] = body_with_neck(p)
    present = bodies[..., 2] > 0
    points = smooth_tracks(bodies[..., :2], present, smoothing)
    hands = {attr: _smoothed_part(persons, attr, smoothing) for attr in ("hand_left", "hand_right", "face")}

    if chosen[anchor_frame] is None:
        nearest = min(with_person, key=lambda t: abs(t - anchor_frame))
        notes.append(f"anchor frame {anchor_frame} has no person; used frame {nearest}")
        anchor_frame = nearest
    full = np.concatenate([points, present[..., None]], axis=2)
    lengths = _bone_lengths(full)
    lengths[lengths <= EPS] = np.nan
    anchor_lengths = _nearest_finite(lengths, anchor_frame)
    anchor_pivot = _nearest_finite(_pivots(full)[:, None], anchor_frame)[0]
    ref_lengths = _reference_lengths(ref_body, ref_pivot, symmetric)
    if not np.isfinite(anchor_pivot):
        # No frame shows nose and neck: estimate the head size from the limbs both people show.
        ratios = anchor_lengths / (ref_lengths / ref_pivot)
        ratios = ratios[np.isfinite(ratios)]
        if not len(ratios):
            raise ValueError("the driving person shares no measurable limb with the reference person; check that "
                             "both poses are OpenPose-18 bodies from a pose detector with the limbs visible")
        anchor_pivot = float(np.median(ratios))
        notes.append("driving: no frame shows nose and neck; head size estimated from the limbs")
    size_ratio = ref_pivot / anchor_pivot

    bodies = _retarget_bodies(points, present, ref_lengths, anchor_lengths, ref_pivot, size_ratio)
    necks = points[:, NECK]
    if position == "reference":
        new_necks, scale = ref_body[NECK, :2] + (necks - necks[anchor_frame]) * size_ratio, 1.0
    else:  # the driving canvas fitted (centred) into the reference canvas
        drv_size = np.array([drv_frames[anchor_frame].width, drv_frames[anchor_frame].height], float)
        ref_size = np.array([ref_frame.width, ref_frame.height], float)
        fit = float(np.min(ref_size / drv_size))
        new_necks, scale = (ref_size - fit * drv_size) / 2 + fit * necks, fit / size_ratio
    bodies = new_necks[:, None] + (bodies - bodies[:, NECK:NECK + 1]) * scale
    part_scale = size_ratio * scale

    out_frames = [None] * num_frames
    dropped_hands = 0
    for t in with_person:
        body = bodies[t]
        out_body = np.column_stack([body, present[t]])
        out_body[~present[t]] = 0.0
        person = Person(body=out_body)
        for attr, wrist in (("hand_left", L_WRIST), ("hand_right", R_WRIST)):
            part = hands[attr][t]
            if part is None:
                continue
            if present[t, wrist]:
                setattr(person, attr, _follow(part, points[t, wrist], body[wrist], part_scale))
            else:
                dropped_hands += int((part[:, 2] > 0).any())
                setattr(person, attr, _drop(part))
        face = hands["face"][t]
        if face is not None:
            person.face = (_follow(face, points[t, NOSE], body[NOSE], part_scale)
                           if present[t, NOSE] else _drop(face))
        out_frames[t] = PoseFrame(ref_frame.width, ref_frame.height, [person])
    if dropped_hands:
        notes.append(f"driving: a hand was dropped in {dropped_hands} frame(s) where its wrist was missing")
    for t in missing:
        source = max((s for s in with_person if s < t), default=None)
        if source is None:
            source = min(s for s in with_person if s > t)
        out_frames[t] = out_frames[source]
    result = frames_to_pose_keypoint(out_frames)
    return RetargetResult(result, notes)


def _smoothed_part(persons, attr, smoothing):
    """Per frame, the person's part array (smoothed over time when asked) or None."""
    parts = [None if p is None else getattr(p, attr) for p in persons]
    present = [p for p in parts if p is not None]
    if not present or smoothing <= 0:
        return parts
    n = len(present[0])
    pts = np.zeros((len(parts), n, 2))
    vis = np.zeros((len(parts), n), dtype=bool)
    for t, p in enumerate(parts):
        if p is not None and len(p) == n:
            pts[t], vis[t] = p[:, :2], p[:, 2] > 0
    pts = smooth_tracks(pts, vis, smoothing)
    out = []
    for t, p in enumerate(parts):
        if p is None or len(p) != n:
            out.append(p)
        else:
            out.append(np.column_stack([pts[t], p[:, 2]]))
    return out


def _ranges(indices):
    """[1, 2, 3, 7] -> '1-3, 7'."""
    spans, start = [], indices[0]
    for prev, cur in zip(indices, indices[1:] + [None]):
        if cur != prev + 1:
            spans.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = cur
    return ", ".join(spans)


def retarget(reference, driving, *, anchor_frame=0, **options):
    """Public API: POSE_KEYPOINT reference (one frame) + driving sequence -> retargeted POSE_KEYPOINT."""
    return retarget_frames(reference, driving, anchor_frame=anchor_frame, **options).frames
