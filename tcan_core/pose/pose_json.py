"""Pose JSON files <-> POSE_KEYPOINT.

load_pose_json reads
  * comfyui_controlnet_aux JSON: a list of POSE_KEYPOINT frame dicts or a single frame dict (what
    its "Save Pose Keypoints" node writes), or that JSON held in a JSON string - e.g. the node's
    `ui.openpose_json`, a list with one string element;
  * OpenPose's own output: one `*_keypoints.json` file {"version": ..., "people": [...]} per
    frame, a single file or a directory of them (frames in natural order of the file names).
    Bodies may be COCO-18 (54 numbers) or BODY_25 (75 numbers, mapped to OpenPose-18).
OpenPose files carry no canvas size: it comes from canvas_width / canvas_height, or is inferred as
the smallest canvas holding every visible point. Every bad input raises a ValueError naming the
file, what is wrong and what is expected.
"""

import json
import math
import re
from pathlib import Path

import numpy as np

from . import keypoints
from .keypoints import flat_triples
from .skeleton import BODY25_TO_BODY18, NUM_BODY_JOINTS

EXPECTED = ("expected comfyui_controlnet_aux POSE_KEYPOINT JSON (a list of frames "
            '{"people": [...], "canvas_width": W, "canvas_height": H}) or OpenPose keypoints JSON '
            '({"version": ..., "people": [{"pose_keypoints_2d": [...], ...}]})')

# OpenPose 1.0 wrote the keypoint lists without the "_2d" suffix.
_LEGACY_KEYS = {"pose_keypoints_2d": "pose_keypoints", "face_keypoints_2d": "face_keypoints",
                "hand_left_keypoints_2d": "hand_left_keypoints",
                "hand_right_keypoints_2d": "hand_right_keypoints"}

_BODY18_VALUES = NUM_BODY_JOINTS * 3
_BODY25_VALUES = 25 * 3


def natural_key(name):
    """Sort key putting 'x_2' before 'x_10' (digit runs compare as numbers)."""
    parts = re.split(r"([0-9]+)", name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name


# ---------------------------------------------------------------------------------------------
# Reading and structure detection


def _read_json(path):
    """Decoded JSON of one file; ValueError on unreadable / non-JSON files."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"pose JSON {path}: not a UTF-8 text file; {EXPECTED}") from None
    except OSError as e:
        raise ValueError(f"pose JSON {path}: cannot read the file ({e.strerror or e})") from None
    return _decode(text, f"pose JSON {path}", "the file")


def _decode(text, source, what):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{source}: {what} is not valid JSON ({e}); {EXPECTED}") from None


def _raw_frames(data, source):
    """Decoded JSON -> list of (label, frame dict with 'people'); labels name the frame in errors."""
    if isinstance(data, str):  # JSON held in a JSON string
        return _raw_frames(_decode(data, source, "the string"), source)
    if isinstance(data, dict):
        if "people" in data:
            return [(source, data)]
        if "openpose_json" in data:  # the node's ui dict
            return _raw_frames(data["openpose_json"], source)
        if isinstance(data.get("frames"), list):  # {"fps": ..., "frames": [...]} variants
            return _raw_frames(data["frames"], source)
        keys = ", ".join(repr(k) for k in list(data)[:8]) or "none"
        raise ValueError(f"{source}: unknown structure, a JSON object without 'people' "
                         f"(keys: {keys}); {EXPECTED}")
    if isinstance(data, list):
        if not data:
            raise ValueError(f"{source}: the JSON is an empty list; expected at least one pose frame")
        frames = []
        for i, item in enumerate(data):
            if isinstance(item, str):
                frames += _raw_frames(_decode(item, source, f"the string at element {i}"), source)
            elif isinstance(item, dict) and "people" in item:
                frames.append((f"{source} (frame {i})", item))
            else:
                what = (f"an object without 'people' (keys: {', '.join(map(repr, list(item)[:8]))})"
                        if isinstance(item, dict) else f"a {_json_type(item)}")
                raise ValueError(f"{source}: unknown structure, element {i} is {what}; {EXPECTED}")
        return frames
    raise ValueError(f"{source}: unknown structure, the JSON is a {_json_type(data)}; {EXPECTED}")


def _json_type(value):
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


# ---------------------------------------------------------------------------------------------
# Frame cleaning


def _body18(values, label):
    """Body list -> 54 numbers (OpenPose-18); BODY_25 is remapped (mid-hip and feet dropped)."""
    arr = flat_triples(values, "pose_keypoints_2d", label)
    if arr is None or arr.size == 0:
        return None
    if arr.size == _BODY25_VALUES:
        arr = arr.reshape(25, 3)[list(BODY25_TO_BODY18)].reshape(-1)
    elif arr.size != _BODY18_VALUES:
        raise ValueError(
            f"{label}: pose_keypoints_2d has {arr.size} numbers; expected {_BODY18_VALUES} "
            f"(COCO/OpenPose-18: 18 points x 3) or {_BODY25_VALUES} (OpenPose BODY_25: 25 points x 3)")
    return arr


def _canvas_value(frame, key, label):
    """Canvas size stored in the frame, or None when absent (None or 0 count as absent)."""
    value = frame.get(key)
    if value is None or (isinstance(value, (int, float)) and value == 0):
        return None
    return value  # anything else is validated by keypoints.frame_from_dict


def _clean_frame(frame, label):
    """Raw frame dict -> POSE_KEYPOINT-shaped dict with lists of floats (canvas may be None)."""
    people_in = frame.get("people") or []
    if not isinstance(people_in, list):
        raise ValueError(f"{label}: 'people' must be a list of person objects")
    people = []
    for j, person in enumerate(people_in):
        plabel = f"{label} person {j}"
        if not isinstance(person, dict):
            raise ValueError(f"{plabel}: expected an object of keypoint lists, got a {_json_type(person)}")
        entry = {}
        for key, _, _ in keypoints.PARTS:
            values = person.get(key, person.get(_LEGACY_KEYS[key]))
            arr = _body18(values, plabel) if key == "pose_keypoints_2d" else flat_triples(values, key, plabel)
            entry[key] = None if arr is None or arr.size == 0 else arr.tolist()
        people.append(entry)
    return {"people": people,
            "canvas_width": _canvas_value(frame, "canvas_width", label),
            "canvas_height": _canvas_value(frame, "canvas_height", label)}


def _visible_points(frame):
    """[N, 2] finite (x, y) of every point at or above the confidence threshold."""
    pts = [np.asarray(values, dtype=np.float64).reshape(-1, 3)
           for person in frame["people"] for values in person.values() if values]
    if not pts:
        return np.zeros((0, 2))
    pts = np.concatenate(pts)
    ok = np.isfinite(pts).all(axis=1) & (pts[:, 2] >= keypoints.CONFIDENCE_THRESHOLD)
    return pts[ok, :2]


def _fill_canvas(frames, source, canvas_width, canvas_height):
    """Set every frame's canvas: arguments > 0 win, then the file, then one inferred size."""
    for f in frames:
        if canvas_width > 0:
            f["canvas_width"] = canvas_width
        if canvas_height > 0:
            f["canvas_height"] = canvas_height
    missing = [f for f in frames if f["canvas_width"] is None or f["canvas_height"] is None]
    if not missing:
        return
    if any(keypoints.is_normalized(f) for f in missing):
        raise ValueError(f"{source}: the keypoints are normalised (all within [-1, 1]) and the file has "
                         "no canvas size; pass canvas_width and canvas_height (the video's size in pixels)")
    pts = np.concatenate([_visible_points(f) for f in missing])
    if pts.size == 0:
        raise ValueError(f"{source}: the file has no canvas size and no visible keypoints to infer it "
                         "from; pass canvas_width and canvas_height")
    # One size for all frames that lack it, so a video keeps a single canvas.
    width = max(1, math.ceil(float(pts[:, 0].max()) + 1))
    height = max(1, math.ceil(float(pts[:, 1].max()) + 1))
    for f in missing:
        if f["canvas_width"] is None:
            f["canvas_width"] = width
        if f["canvas_height"] is None:
            f["canvas_height"] = height


# ---------------------------------------------------------------------------------------------
# Public API


def _check_size_arg(value, name):
    try:
        size = int(value or 0)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer (0 = from the file), got {value!r}") from None
    if size < 0:
        raise ValueError(f"{name} must be >= 0 (0 = from the file), got {value!r}")
    return size


def pose_keypoint_from_json(data, canvas_width=0, canvas_height=0, source="pose JSON"):
    """Decoded JSON (or a JSON string) in any accepted layout -> clean POSE_KEYPOINT in pixels."""
    return _to_pose_keypoint(_raw_frames(data, source), source, canvas_width, canvas_height)


def _to_pose_keypoint(raw, source, canvas_width, canvas_height):
    canvas_width = _check_size_arg(canvas_width, "canvas_width")
    canvas_height = _check_size_arg(canvas_height, "canvas_height")
    frames = [_clean_frame(frame, label) for label, frame in raw]
    _fill_canvas(frames, source, canvas_width, canvas_height)
    out = []
    for (label, _), frame in zip(raw, frames):
        try:
            out.append(keypoints.frame_from_dict(frame))
        except ValueError as e:
            raise ValueError(f"{label}: {str(e).removeprefix('pose frame 0: ')}") from None
    return keypoints.frames_to_pose_keypoint(out)


def load_pose_json(path, canvas_width=0, canvas_height=0):
    """Pose JSON file or directory of OpenPose files -> POSE_KEYPOINT (pixel coordinates).

    canvas_width / canvas_height > 0 override the file's canvas size; without either the size
    is inferred from the points (normalised coordinates then need them).
    """
    text = str(path).strip().strip('"').strip("'")
    if not text:
        raise ValueError(f"no pose JSON path given; {EXPECTED}")
    p = Path(text).expanduser()
    if p.is_dir():
        files = sorted((f for f in p.iterdir()
                        if f.is_file() and f.suffix.lower() == ".json" and not f.name.startswith(".")),
                       key=lambda f: natural_key(f.name))
        if not files:
            raise ValueError(f"pose JSON directory {p} contains no .json files; expected OpenPose "
                             "'*_keypoints.json' files, one per frame")
        raw = []
        for f in files:
            raw += _raw_frames(_read_json(f), f"pose JSON {f}")
        source = f"pose JSON directory {p}"
    elif p.is_file():
        raw = _raw_frames(_read_json(p), f"pose JSON {p}")
        source = f"pose JSON {p}"
    else:
        raise ValueError(f"pose JSON {p}: no such file or directory; expected a .json file or a "
                         "directory of OpenPose '*_keypoints.json' files")
    return _to_pose_keypoint(raw, source, canvas_width, canvas_height)


def save_pose_json(pose_keypoint, path):
    """Write POSE_KEYPOINT as one-line JSON (as controlnet_aux saves it); returns the path."""
    p = Path(path).expanduser()
    try:
        clean = keypoints.frames_to_pose_keypoint(keypoints.frames_from_pose_keypoint(pose_keypoint))
    except ValueError as e:
        raise ValueError(f"cannot save pose JSON {p}: {e}") from None
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(clean), encoding="utf-8")
    return str(p)
