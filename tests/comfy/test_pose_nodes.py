"""The pose nodes inside a real ComfyUI: registration, the bundled workflow, execution, errors."""

import glob
import json
import os

import numpy as np
import pytest
import torch

from tcan_core.pose import render, retarget_frames
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import DRIVING_POSE, REFERENCE_POSE

from . import harness
from .bundled import bundled_prompt
from .ui_to_api import FRONTEND_ONLY

WORKFLOWS = sorted(glob.glob(os.path.join(harness.PACK_DIR, "workflows", "*.json")))


def node(nodes, node_id):
    return nodes.NODE_CLASS_MAPPINGS[node_id]


def test_pack_nodes_are_registered_with_display_names(comfy_nodes):
    for node_id in harness.PACK_NODE_IDS:
        assert node_id in comfy_nodes.NODE_CLASS_MAPPINGS, node_id
        assert "TCAN" in comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS[node_id]


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_bundled_workflow_passes_comfyui_validation(comfy_nodes, path):
    with open(path) as f:
        types = {n["type"] for n in json.load(f)["nodes"]} - FRONTEND_ONLY
    missing = sorted(types - set(comfy_nodes.NODE_CLASS_MAPPINGS))
    if missing:
        pytest.skip(f"{os.path.basename(path)} needs {missing} (install comfyui_controlnet_aux to validate it)")
    prompt = bundled_prompt(os.path.basename(path), comfy_nodes)
    valid, error, outputs, node_errors = harness.validate(prompt)
    assert valid, (error, node_errors)
    assert outputs


def test_pose_retarget_workflow_runs_and_writes_video_and_json(comfy_nodes):
    prompt = bundled_prompt("pose_retarget.json", comfy_nodes)
    executor, outputs = harness.execute(prompt)
    out_dir = os.path.join(harness.work_dir(), "output", "tcan")
    videos = sorted(glob.glob(os.path.join(out_dir, "pose_retarget*.mp4")))
    assert len(videos) == 2 and all(os.path.getsize(v) > 1000 for v in videos)
    saved = glob.glob(os.path.join(out_dir, "retargeted_pose_*.json"))
    assert len(saved) == 1
    expected = retarget_frames(load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)).frames
    with open(saved[0]) as f:
        assert json.load(f) == expected
    texts = [o["text"][0] for o in outputs.values() if "text" in o]
    assert any("saved 100 frame(s)" in t for t in texts)


def test_nodes_compute_what_the_core_computes(comfy_nodes):
    reference, frame_count = node(comfy_nodes, "TCANLoadPoseJSON").execute(
        pose_file="(TCAN sample) reference_pose.json", canvas_width=0, canvas_height=0).args
    driving, frame_count = node(comfy_nodes, "TCANLoadPoseJSON").execute(
        pose_file="(TCAN sample) driving_pose.json", canvas_width=0, canvas_height=0).args
    assert frame_count == len(driving) == 100
    pose, preview, notes = node(comfy_nodes, "TCANPoseRetarget").execute(
        reference_pose=reference, driving_pose=driving, anchor_frame=5, position="driving", smoothing=1.5,
        symmetric_limbs=False).args
    expected = retarget_frames(reference, driving, anchor_frame=5, position="driving", smoothing=1.5, symmetric=False)
    assert pose == expected.frames and isinstance(notes, str)
    assert preview.shape[0] == 100 and preview.shape[1] == 256 and preview.dtype == torch.float32
    (images,) = node(comfy_nodes, "TCANRenderPose").execute(pose=pose, width=192, height=256, draw_hands=True).args
    assert images.shape == (100, 256, 192, 3) and images.dtype == torch.float32
    np.testing.assert_array_equal((images.numpy() * 255).round().astype(np.uint8), render(pose, 192, 256, hands=True))


def test_load_pose_json_lists_files_from_the_input_folder(comfy_nodes):
    import folder_paths

    with open(DRIVING_POSE) as src, open(os.path.join(folder_paths.get_input_directory(), "mine.json"), "w") as dst:
        dst.write(src.read())
    load = node(comfy_nodes, "TCANLoadPoseJSON")
    spec = load.GET_NODE_INFO_V1()["input"]["required"]["pose_file"]
    options = spec[1]["options"] if spec[0] == "COMBO" else spec[0]
    assert "mine.json" in options and "(TCAN sample) driving_pose.json" in options
    pose, count = load.execute(pose_file="mine.json", canvas_width=0, canvas_height=0).args
    assert count == 100


def test_bad_input_fails_with_the_pack_s_message_not_a_crash(comfy_nodes):
    import folder_paths

    with open(os.path.join(folder_paths.get_input_directory(), "broken.json"), "w") as f:
        f.write('[{"people": [], "canvas_width": 512, "canvas_height": 512}]')
    prompt = {
        "1": {"class_type": "TCANLoadPoseJSON", "inputs": {"pose_file": "(TCAN sample) reference_pose.json",
                                                          "canvas_width": 0, "canvas_height": 0}},
        "2": {"class_type": "TCANLoadPoseJSON", "inputs": {"pose_file": "broken.json", "canvas_width": 0,
                                                          "canvas_height": 0}},
        "3": {"class_type": "TCANPoseRetarget", "inputs": {"reference_pose": ["1", 0], "driving_pose": ["2", 0],
                                                          "anchor_frame": 0, "position": "reference",
                                                          "smoothing": 0.0, "symmetric_limbs": True}},
        "4": {"class_type": "TCANSavePoseJSON", "inputs": {"pose": ["3", 0], "filename_prefix": "tcan/bad"}},
    }
    with pytest.raises(AssertionError) as failure:
        harness.execute(prompt)
    message = str(failure.value)
    assert "ValueError" in message and "no usable person in any driving frame" in message
