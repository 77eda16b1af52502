"""The main job without ComfyUI: python -m tcan_core.demo on the bundled samples."""

import json
import re
import subprocess
import sys

import cv2
import numpy as np

from tcan_core.demo import main
from tcan_core.pose import render
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import DRIVING_POSE
from tcan_core.video import write_mp4


def test_demo_writes_pose_json_videos_and_contact_sheet(tmp_path, capsys):
    assert main(["--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    for name in ("retargeted_pose.json", "retargeted_pose.mp4", "preview.mp4", "contact_sheet.png"):
        assert (tmp_path / name).stat().st_size > 1000 and name in printed
    assert "8 windows of 16 frames (overlap 4): 0-15, 12-27, 24-39, 36-51, 48-63, 60-75, 72-87, 84-99" in printed
    before, after = (float(v) for v in re.search(r"IoU .*?: ([\d.]+) before, ([\d.]+) after", printed).groups())
    assert after > before
    preview = cv2.VideoCapture(str(tmp_path / "preview.mp4"))
    assert int(preview.get(cv2.CAP_PROP_FRAME_COUNT)) == 100 and preview.get(cv2.CAP_PROP_FRAME_WIDTH) > 900
    sheet = cv2.imread(str(tmp_path / "contact_sheet.png"))
    assert sheet.shape[0] > 900 and sheet.shape[1] > 1000
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


def test_pipeline_stages_are_the_core_s():
    """The demo shows what the nodes compute: retargeting, TPC calibration, PTM per window, windows."""
    from tcan_core.calibrate import calibrate
    from tcan_core.demo import Pipeline
    from tcan_core.pose import retarget_frames
    from tcan_core.samples import REFERENCE_IMAGE, REFERENCE_POSE
    from tcan_core.temporal.temperature import temperature_map
    from tcan_core.temporal.windows import sliding_windows

    reference, driving = load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)[:40]
    image = cv2.imread(REFERENCE_IMAGE)[..., ::-1].copy()
    pipeline = Pipeline(reference, driving, image)
    retargeted = retarget_frames(reference, driving).frames
    assert pipeline.retargeted.frames == retargeted
    assert pipeline.windows == sliding_windows(40, 16, 4, closed_loop=False)
    assert pipeline.windows == [list(range(start, start + 16)) for start in (0, 12, 24)]
    np.testing.assert_array_equal(pipeline.ptm[1], temperature_map(render(retargeted)[12:28], 3.0))
    np.testing.assert_array_equal(pipeline.calibration.matrices, calibrate(image, reference, retargeted).matrices)
    assert [pipeline.window_of(i) for i in (0, 13, 15, 39)] == [0, 0, 1, 2]  # the nearest window middle
    frame = pipeline.preview_frame(20, pipeline.reference_panel())
    assert frame.shape[0] % 2 == frame.shape[1] % 2 == 0 and frame.dtype == np.uint8


def test_demo_runs_without_torch(tmp_path):
    """requirements.txt has no torch; the demo must not import it."""
    code = ("import sys; sys.modules['torch'] = None; from tcan_core.demo import main; "
            f"sys.exit(main(['--out', {str(tmp_path)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "contact_sheet.png").is_file()
