"""ComfyUI's POSE_KEYPOINT format <-> numpy arrays.

POSE_KEYPOINT (comfyui_controlnet_aux) is a list with one dict per frame:
    {"people": [{"pose_keypoints_2d": [x, y, c] * 18,
                 "face_keypoints_2d": [x, y, c] * 70 | None,
                 "hand_left_keypoints_2d": [x, y, c] * 21 | None,
                 "hand_right_keypoints_2d": [x, y, c] * 21 | None}, ...],
     "canvas_width": W, "canvas_height": H}
DWPose gives pixel coordinates, OpenPose normalised ones (all |x|, |y| <= 1); a missing point is
(0, 0, 0). Inside the pack every point is a row (x, y, c) in pixels, c in {0, 1}; a point with
c = 0 carries no position and is written back as (0, 0, 0).
"""

from dataclasses import dataclass, field

import numpy as np

from .skeleton import NUM_BODY_JOINTS, NUM_FACE_JOINTS, NUM_HAND_JOINTS

# (dict key, attribute, number of points) of every keypoint group of a person.
PARTS = (
    ("pose_keypoints_2d", "body", NUM_BODY_JOINTS),
    ("face_keypoints_2d", "face", NUM_FACE_JOINTS),
    ("hand_left_keypoints_2d", "hand_left", NUM_HAND_JOINTS),
    ("hand_right_keypoints_2d", "hand_right", NUM_HAND_JOINTS),
)

# A point counts as detected when its confidence reaches this (DWPose's own threshold);
# POSE_KEYPOINT itself only carries 0 or 1.
CONFIDENCE_THRESHOLD = 0.3


@dataclass
class Person:
    """One person: each part is a float64 array [N, 3] of (x, y, visible) in pixels, or None."""

    body: np.ndarray
    face: np.ndarray | None = None
    hand_left: np.ndarray | None = None
    hand_right: np.ndarray | None = None

    def parts(self):
        """(attribute, array) for every part present."""
        return [(attr, getattr(self, attr)) for _, attr, _ in PARTS if getattr(self, attr) is not None]

    def copy(self):
        return Person(**{attr: arr.copy() for attr, arr in self.parts()})


@dataclass
class PoseFrame:
    """One frame: the people in it and the canvas their pixel coordinates refer to."""

    width: int
    height: int
    people: list = field(default_factory=list)


def _finite_size(value, name, frame_index):
    try:
        size = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"pose frame {frame_index}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(size) or size < 1:
        raise ValueError(f"pose frame {frame_index}: {name} must be a positive number, got {value!r}")
    return int(round(size))


def flat_triples(values, key, where):
    """A keypoint list (flat or nested) -> flat float array of (x, y, c) triples, or None if absent.

    `where` names the place in error messages (e.g. "pose frame 3")."""
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key} must be a flat list of numbers [x, y, c, ...]") from None
    if arr.size % 3:
        raise ValueError(f"{where}: {key} has {arr.size} numbers; expected (x, y, c) triples")
    return arr


def _points(values, count, key, frame_index):
    """Flat [x, y, c, ...] list -> [count, 3] array with invalid points zeroed, or None."""
    arr = flat_triples(values, key, f"pose frame {frame_index}")
    if arr is None or arr.size == 0:
        return None
    pts = arr.reshape(-1, 3)
    if len(pts) < count:  # a shorter list (e.g. a detector with fewer points): pad as missing
        pts = np.vstack([pts, np.zeros((count - len(pts), 3))])
    pts = pts[:count].copy()
    finite = np.isfinite(pts).all(axis=1)
    visible = finite & (pts[:, 2] >= CONFIDENCE_THRESHOLD)
    pts[~visible] = 0.0
    pts[visible, 2] = 1.0
    return pts


def _within_unit_square(parts):
    """True when every detected point of these [N, 3] arrays lies in [-1, 1]."""
    coords = [pts[pts[:, 2] > 0, :2] for pts in parts if pts is not None]
    coords = np.concatenate(coords) if coords else np.zeros((0, 2))
    return coords.size > 0 and bool(np.all(np.abs(coords) <= 1.0))


def is_normalized(frame_dict):
    """True when every detected point of the frame lies in [-1, 1] (OpenPose's normalised output)."""
    parts = [_points(person.get(key), count, key, 0)
             for person in frame_dict.get("people") or [] if isinstance(person, dict)
             for key, _, count in PARTS]
    return _within_unit_square(parts)


def frame_from_dict(frame_dict, frame_index=0):
    """One POSE_KEYPOINT frame dict -> PoseFrame in pixel coordinates."""
    if not isinstance(frame_dict, dict):
        raise ValueError(
            f"pose frame {frame_index} is a {type(frame_dict).__name__}; expected a dict with "
            "'people', 'canvas_width' and 'canvas_height' (the POSE_KEYPOINT format)")
    for key in ("canvas_width", "canvas_height"):
        if key not in frame_dict:
            raise ValueError(f"pose frame {frame_index} has no '{key}'; POSE_KEYPOINT frames need the canvas size")
    width = _finite_size(frame_dict["canvas_width"], "canvas_width", frame_index)
    height = _finite_size(frame_dict["canvas_height"], "canvas_height", frame_index)
    people_in = frame_dict.get("people")
    people_in = [] if people_in is None else people_in
    if not isinstance(people_in, list):
        raise ValueError(f"pose frame {frame_index}: 'people' must be a list")
    people = []
    for person in people_in:
        if not isinstance(person, dict):
            raise ValueError(f"pose frame {frame_index}: each person must be a dict of keypoint lists")
        parts = {attr: _points(person.get(key), count, key, frame_index) for key, attr, count in PARTS}
        if parts["body"] is None:
            parts["body"] = np.zeros((NUM_BODY_JOINTS, 3))
        people.append(Person(**parts))
    if _within_unit_square([pts for p in people for _, pts in p.parts()]):
        scale = np.array([width, height, 1.0])
        for p in people:
            for _, pts in p.parts():
                pts *= scale
    return PoseFrame(width, height, people)


def frames_from_pose_keypoint(pose_keypoint):
    """POSE_KEYPOINT (a list of frame dicts, or one dict) -> list of PoseFrame. Frames parsed already
    (PoseFrame) are taken as they are, so a caller can parse a sequence once and hand it on."""
    if isinstance(pose_keypoint, dict):
        pose_keypoint = [pose_keypoint]
    if not isinstance(pose_keypoint, (list, tuple)):
        raise ValueError(
            f"expected POSE_KEYPOINT (a list of frame dicts), got {type(pose_keypoint).__name__}")
    return [d if isinstance(d, PoseFrame) else frame_from_dict(d, i) for i, d in enumerate(pose_keypoint)]


def _flat(pts):
    out = np.round(pts, 3)
    out[out[:, 2] <= 0] = 0.0
    return out.reshape(-1).tolist()


def frame_to_dict(frame):
    """PoseFrame -> POSE_KEYPOINT frame dict (pixel coordinates; missing points as 0, 0, 0)."""
    people = []
    for person in frame.people:
        entry = {}
        for key, attr, _ in PARTS:
            pts = getattr(person, attr)
            entry[key] = None if pts is None else _flat(pts)
        people.append(entry)
    return {"people": people, "canvas_width": int(frame.width), "canvas_height": int(frame.height)}


def frames_to_pose_keypoint(frames):
    return [frame_to_dict(f) for f in frames]
