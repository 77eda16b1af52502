"""The main job without ComfyUI: python -m tcan_core.demo on the bundled samples."""

import json
import subprocess
import sys

import cv2
import numpy as np

from tcan_core.demo import main
from tcan_core.pose import render
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import DRIVING_POSE
from tcan_core.video import write_mp4


def test_demo_writes_pose_json_and_videos(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("retargeted_pose.json", "retargeted_pose.mp4", "preview.mp4"):
        assert (tmp_path / name).stat().st_size > 1000 and name in printed
    pose = json.loads((tmp_path / "retargeted_pose.json").read_text())
    assert len(pose) == len(load_pose_json(DRIVING_POSE)) == 100
    video = cv2.VideoCapture(str(tmp_path / "retargeted_pose.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 100
    ok, first = video.read()
    assert ok and first.shape[:2] == (pose[0]["canvas_height"], pose[0]["canvas_width"])


def test_demo_reports_bad_input_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["--out", str(tmp_path), "--driving-pose", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_videos_keep_rgb_order(tmp_path):
    """The official pipeline swapped R and B through cv2 (tcan.md B3); a red limb must stay red."""
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    frames[:, 16:48, 16:48] = (255, 0, 0)
    write_mp4(str(tmp_path / "red.mp4"), frames, 25)
    ok, bgr = cv2.VideoCapture(str(tmp_path / "red.mp4")).read()
    b, g, r = bgr[32, 32].astype(int)
    assert ok and r > 200 and b < 60


def test_module_entry_point_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tcan_core.demo", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "retargeted 100 frames" in done.stdout
    assert render(json.loads((tmp_path / "retargeted_pose.json").read_text())).shape[0] == 100
