"""Tests for tcan_core.pose.pose_json: loading/saving pose JSON files."""

import json
import re

import pytest

from tcan_core.pose.pose_json import load_pose_json, natural_key, save_pose_json


def _body18(offset=0.0):
    """18 visible points at distinct pixel positions."""
    out = []
    for i in range(18):
        out += [10.0 + 5 * i + offset, 20.0 + 7 * i + offset, 1.0]
    return out


def _body25(tag):
    """25 BODY_25 points; joint k sits at (100*tag + k, 200 + k) with confidence 0.9."""
    out = []
    for k in range(25):
        out += [100.0 * tag + k, 200.0 + k, 0.9]
    return out


def _openpose_file(body, **extra):
    person = {"person_id": [-1], "pose_keypoints_2d": body, "face_keypoints_2d": [],
              "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": [],
              "pose_keypoints_3d": [], "face_keypoints_3d": [],
              "hand_left_keypoints_3d": [], "hand_right_keypoints_3d": []}
    person.update(extra)
    return {"version": 1.3, "people": [person]}


def _write(path, data):
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _point(frame, person, joint, key="pose_keypoints_2d"):
    return frame["people"][person][key][3 * joint: 3 * joint + 3]


def _pose_keypoint():
    face = []
    for i in range(70):
        face += [300.0 + i, 100.0 + 0.5 * i, 1.0]
    hand = []
    for i in range(21):
        hand += [400.0 + i, 350.0 + 2 * i, 1.0]
    body_missing = _body18(3.25)
    body_missing[6:9] = [0.0, 0.0, 0.0]  # right elbow missing
    return [
        {"people": [{"pose_keypoints_2d": _body18(), "face_keypoints_2d": face,
                     "hand_left_keypoints_2d": hand, "hand_right_keypoints_2d": None},
                    {"pose_keypoints_2d": body_missing, "face_keypoints_2d": None,
                     "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": hand}],
         "canvas_width": 512, "canvas_height": 768},
        {"people": [], "canvas_width": 512, "canvas_height": 768},
    ]


def _assert_pose_equal(got, expected):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert (g["canvas_width"], g["canvas_height"]) == (e["canvas_width"], e["canvas_height"])
        assert len(g["people"]) == len(e["people"])
        for gp, ep in zip(g["people"], e["people"]):
            for key in ("pose_keypoints_2d", "face_keypoints_2d",
                        "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
                if ep[key] is None:
                    assert gp[key] is None, key
                else:
                    assert gp[key] == pytest.approx(ep[key], abs=1e-3), key


# --- round trip and controlnet_aux layouts -----------------------------------------------------


def test_save_load_round_trip(tmp_path):
    pose = _pose_keypoint()
    out = save_pose_json(pose, tmp_path / "a" / "b" / "pose.json")
    assert out == str(tmp_path / "a" / "b" / "pose.json")
    text = (tmp_path / "a" / "b" / "pose.json").read_text()
    assert "\n" not in text.strip()  # one line, like controlnet_aux's json.dump
    assert isinstance(json.loads(text), list)
    _assert_pose_equal(load_pose_json(out), pose)


def test_save_rejects_bad_pose_keypoint(tmp_path):
    with pytest.raises(ValueError, match=r"cannot save pose JSON .*x\.json: .*canvas_width"):
        save_pose_json([{"people": []}], tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_single_frame_dict(tmp_path):
    frame = _pose_keypoint()[0]
    got = load_pose_json(_write(tmp_path / "one.json", frame))
    _assert_pose_equal(got, [frame])


def test_ui_openpose_json_string_form(tmp_path):
    pose = _pose_keypoint()
    # ui.openpose_json: a list holding one string with the (indented) JSON of all frames
    path = _write(tmp_path / "ui.json", [json.dumps(pose, indent=4)])
    _assert_pose_equal(load_pose_json(path), pose)
    # the whole ui dict, and a double-encoded JSON string, work too
    path = _write(tmp_path / "ui_dict.json", {"openpose_json": [json.dumps(pose)]})
    _assert_pose_equal(load_pose_json(path), pose)
    path = _write(tmp_path / "str.json", json.dumps(pose))
    _assert_pose_equal(load_pose_json(path), pose)


def test_quoted_path_is_accepted(tmp_path):
    path = _write(tmp_path / "p.json", _pose_keypoint())
    assert len(load_pose_json(f'"{path}"')) == 2


# --- OpenPose files ----------------------------------------------------------------------------


def test_directory_of_body25_files_natural_order_and_remap(tmp_path):
    for tag in (10, 2, 1):
        _write(tmp_path / f"x_{tag}_keypoints.json", _openpose_file(_body25(tag)))
    (tmp_path / "notes.txt").write_text("not a pose")
    (tmp_path / "render.png").write_bytes(b"\x89PNG")

    pose = load_pose_json(tmp_path, canvas_width=1280, canvas_height=720)

    assert len(pose) == 3
    for frame, tag in zip(pose, (1, 2, 10)):
        assert (frame["canvas_width"], frame["canvas_height"]) == (1280, 720)
        body = frame["people"][0]["pose_keypoints_2d"]
        assert len(body) == 54
        # BODY_25 0..7 keep their index
        for k in range(8):
            assert _point(frame, 0, k) == [100 * tag + k, 200 + k, 1.0]
        # BODY_25 9 (RHip) -> 8, 12 (LHip) -> 11, 18 (LEar) -> 17
        assert _point(frame, 0, 8) == [100 * tag + 9, 209, 1.0]
        assert _point(frame, 0, 11) == [100 * tag + 12, 212, 1.0]
        assert _point(frame, 0, 17) == [100 * tag + 18, 218, 1.0]
        xs = body[0::3]
        assert 100 * tag + 8 not in xs  # mid-hip dropped
        assert all(100 * tag + k not in xs for k in range(19, 25))  # feet dropped
        person = frame["people"][0]
        assert person["face_keypoints_2d"] is None  # empty lists -> absent
        assert person["hand_left_keypoints_2d"] is None
        assert set(person) == {"pose_keypoints_2d", "face_keypoints_2d",
                               "hand_left_keypoints_2d", "hand_right_keypoints_2d"}


def test_natural_key():
    names = ["x_10_keypoints.json", "x_2_keypoints.json", "X_1_keypoints.json",
             "video_000000000012_keypoints.json", "video_000000000003_keypoints.json"]
    assert sorted(names, key=natural_key) == [
        "video_000000000003_keypoints.json", "video_000000000012_keypoints.json",
        "X_1_keypoints.json", "x_2_keypoints.json", "x_10_keypoints.json"]


def test_coco18_openpose_file_with_hands_and_face(tmp_path):
    hand = []
    for i in range(21):
        hand += [50.0 + i, 60.0 + i, 0.8]
    face = []
    for i in range(70):
        face += [70.0 + i, 80.0, 0.95]
    body = _body18()
    path = _write(tmp_path / "f_keypoints.json",
                  _openpose_file(body, hand_right_keypoints_2d=hand, face_keypoints_2d=face))
    frame, = load_pose_json(path, canvas_width=640, canvas_height=480)
    assert frame["people"][0]["pose_keypoints_2d"] == pytest.approx(body)
    assert _point(frame, 0, 20, "hand_right_keypoints_2d") == [70.0, 80.0, 1.0]
    assert _point(frame, 0, 69, "face_keypoints_2d") == [139.0, 80.0, 1.0]
    assert frame["people"][0]["hand_left_keypoints_2d"] is None


def test_low_confidence_points_become_missing(tmp_path):
    body = _body25(1)
    body[3 * 4 + 2] = 0.29  # R-wrist below threshold
    body[3 * 9 + 2] = 0.05  # R-hip (BODY_25 9)
    body[3 * 5 + 2] = 0.3  # L-shoulder exactly at threshold: kept
    frame, = load_pose_json(_write(tmp_path / "c.json", _openpose_file(body)),
                            canvas_width=640, canvas_height=480)
    assert _point(frame, 0, 4) == [0.0, 0.0, 0.0]
    assert _point(frame, 0, 8) == [0.0, 0.0, 0.0]
    assert _point(frame, 0, 5) == [105.0, 205.0, 1.0]
    assert _point(frame, 0, 3) == [103.0, 203.0, 1.0]


def test_canvas_inferred_from_visible_points(tmp_path):
    a = [0.0] * 54
    a[0:3] = [639.2, 10.0, 0.9]
    a[3:6] = [5000.0, 9000.0, 0.1]  # invisible: ignored
    b = [0.0] * 54
    b[0:3] = [20.0, 479.0, 0.9]
    _write(tmp_path / "f_0.json", _openpose_file(a))
    _write(tmp_path / "f_1.json", _openpose_file(b))
    pose = load_pose_json(tmp_path)
    # one canvas for the whole sequence: ceil(639.2 + 1) x ceil(479 + 1)
    assert [(f["canvas_width"], f["canvas_height"]) for f in pose] == [(641, 480), (641, 480)]
    assert _point(pose[0], 0, 0) == [639.2, 10.0, 1.0]
    assert _point(pose[0], 0, 1) == [0.0, 0.0, 0.0]


def test_canvas_arguments_override_file(tmp_path):
    path = _write(tmp_path / "p.json", _pose_keypoint())
    pose = load_pose_json(path, canvas_width=1024, canvas_height=0)
    assert all((f["canvas_width"], f["canvas_height"]) == (1024, 768) for f in pose)


def test_normalised_coordinates_scaled_with_canvas_args(tmp_path):
    body = [0.0] * 54
    body[0:3] = [0.5, 0.25, 0.9]
    body[3:6] = [1.0, 1.0, 0.8]
    body[6:9] = [0.75, 0.5, 0.2]  # low confidence: missing
    path = _write(tmp_path / "n.json", _openpose_file(body))
    frame, = load_pose_json(path, canvas_width=640, canvas_height=480)
    assert (frame["canvas_width"], frame["canvas_height"]) == (640, 480)
    assert _point(frame, 0, 0) == [320.0, 120.0, 1.0]
    assert _point(frame, 0, 1) == [640.0, 480.0, 1.0]
    assert _point(frame, 0, 2) == [0.0, 0.0, 0.0]


def test_normalised_coordinates_without_canvas_raise(tmp_path):
    body = [0.0] * 54
    body[0:3] = [0.5, 0.25, 0.9]
    path = _write(tmp_path / "n.json", _openpose_file(body))
    with pytest.raises(ValueError, match=r"normalised.*canvas_width and canvas_height") as e:
        load_pose_json(path)
    assert "n.json" in str(e.value)


def test_no_canvas_and_no_visible_points_raise(tmp_path):
    path = _write(tmp_path / "empty_people.json", {"version": 1.3, "people": []})
    with pytest.raises(ValueError, match="no visible keypoints.*canvas_width"):
        load_pose_json(path)
    assert load_pose_json(path, 64, 32) == [{"people": [], "canvas_width": 64, "canvas_height": 32}]


# --- bad inputs ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.json: no such file or directory"):
        load_pose_json(tmp_path / "nope.json")


def test_empty_directory(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match=re.escape(f"{tmp_path} contains no .json files")):
        load_pose_json(tmp_path)


def test_not_json_reports_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"people": [}\n]')
    with pytest.raises(ValueError, match=r"broken\.json: the file is not valid JSON \(.*line 2 column"):
        load_pose_json(path)


def test_bad_file_in_directory_is_named(tmp_path):
    _write(tmp_path / "a_1.json", _openpose_file(_body25(1)))
    (tmp_path / "a_2.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"a_2\.json: the file is not valid JSON"):
        load_pose_json(tmp_path, 640, 480)


def test_ui_string_that_is_not_json(tmp_path):
    path = _write(tmp_path / "ui.json", ["hello"])
    with pytest.raises(ValueError, match=r"ui\.json: the string at element 0 is not valid JSON"):
        load_pose_json(path)


@pytest.mark.parametrize("data, match", [
    ({"foo": 1, "bar": 2}, r"unknown structure, a JSON object without 'people' \(keys: 'foo', 'bar'\)"),
    ([1, 2, 3], r"unknown structure, element 0 is a number"),
    ([{"people": [], "canvas_width": 8, "canvas_height": 8}, {"frame": 1}],
     r"unknown structure, element 1 is an object without 'people'"),
    (42, r"unknown structure, the JSON is a number"),
    ([], r"empty list; expected at least one pose frame"),
])
def test_unknown_structures(tmp_path, data, match):
    path = _write(tmp_path / "weird.json", data)
    with pytest.raises(ValueError, match=match) as e:
        load_pose_json(path)
    assert "weird.json" in str(e.value)
    if "unknown structure" in match:
        assert "expected comfyui_controlnet_aux POSE_KEYPOINT JSON" in str(e.value)


def test_wrong_number_of_body_values(tmp_path):
    path = _write(tmp_path / "b.json", _openpose_file([1.0, 2.0, 0.9] * 20))
    with pytest.raises(ValueError, match=r"b\.json person 0: pose_keypoints_2d has 60 numbers; "
                                         r"expected 54 .* or 75"):
        load_pose_json(path, 640, 480)


def test_non_numeric_values(tmp_path):
    body = _body18()
    body[4] = "abc"
    frames = [{"people": [{"pose_keypoints_2d": body}], "canvas_width": 64, "canvas_height": 64}]
    path = _write(tmp_path / "s.json", frames)
    with pytest.raises(ValueError, match=r"s\.json \(frame 0\) person 0: pose_keypoints_2d must be a flat list"):
        load_pose_json(path)


def test_hand_not_triples(tmp_path):
    path = _write(tmp_path / "h.json", _openpose_file(_body18(), hand_left_keypoints_2d=[1.0, 2.0]))
    with pytest.raises(ValueError, match=r"h\.json person 0: hand_left_keypoints_2d has 2 numbers"):
        load_pose_json(path, 640, 480)


def test_bad_canvas_in_file(tmp_path):
    path = _write(tmp_path / "cv.json", [{"people": [], "canvas_width": "wide", "canvas_height": 64}])
    with pytest.raises(ValueError, match=r"cv\.json \(frame 0\): canvas_width must be a number"):
        load_pose_json(path)


def test_negative_canvas_argument(tmp_path):
    path = _write(tmp_path / "p.json", _pose_keypoint())
    with pytest.raises(ValueError, match="canvas_width must be >= 0"):
        load_pose_json(path, canvas_width=-5)
