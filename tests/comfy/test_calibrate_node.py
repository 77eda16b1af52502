"""Procrustes Calibrate inside a real ComfyUI: registration, a prompt on the sample data, parity, errors."""

import itertools
import os
import shutil

import numpy as np
import pytest
import torch

from tcan_core.calibrate import Calibration, calibrate
from tcan_core.pose import retarget
from tcan_core.pose.pose_json import load_pose_json
from tcan_core.samples import DRIVING_POSE, REFERENCE_IMAGE, REFERENCE_POSE

from . import harness

NODE_ID = "TCANProcrustesCalibrate"


def node(nodes, node_id=NODE_ID):
    return nodes.NODE_CLASS_MAPPINGS[node_id]


def sample_image_tensor():
    import cv2

    rgb = cv2.cvtColor(cv2.imread(REFERENCE_IMAGE), cv2.COLOR_BGR2RGB)
    return torch.from_numpy(rgb.astype(np.float32) / 255.0)[None]


def test_node_is_registered_with_its_sockets(comfy_nodes):
    assert NODE_ID in comfy_nodes.NODE_CLASS_MAPPINGS
    assert comfy_nodes.NODE_DISPLAY_NAME_MAPPINGS[NODE_ID] == "Procrustes Calibrate (TCAN)"
    info = node(comfy_nodes).GET_NODE_INFO_V1()
    assert info["output"][0] == "TCAN_CALIBRATION" and list(info["output"][1:]) == ["IMAGE", "MASK", "STRING"]
    assert set(info["input"]["optional"]) == {"reference_mask", "driving_masks"}
    assert info["input"]["required"]["num_groups"][1]["default"] == 30


def calibrate_prompt(image_name, driving_masks=None):
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "2": {"class_type": "TCANLoadPoseJSON", "inputs": {"pose_file": "(TCAN sample) reference_pose.json",
                                                          "canvas_width": 0, "canvas_height": 0}},
        "3": {"class_type": "TCANLoadPoseJSON", "inputs": {"pose_file": "(TCAN sample) driving_pose.json",
                                                          "canvas_width": 0, "canvas_height": 0}},
        "4": {"class_type": "TCANPoseRetarget", "inputs": {"reference_pose": ["2", 0], "driving_pose": ["3", 0],
                                                          "anchor_frame": 0, "position": "reference",
                                                          "smoothing": 0.0, "symmetric_limbs": True}},
        "5": {"class_type": NODE_ID, "inputs": {"reference_image": ["1", 0], "reference_pose": ["2", 0],
                                                "driving_pose": ["4", 0], "subset_search": True, "num_groups": 30}},
        "6": {"class_type": "PreviewAny", "inputs": {"source": ["5", 3]}},
        "7": {"class_type": "PreviewImage", "inputs": {"images": ["5", 1]}},
    }
    if driving_masks is not None:
        prompt["8"] = driving_masks
        prompt["5"]["inputs"]["driving_masks"] = ["8", 0]
    return prompt


def copy_sample_image():
    import folder_paths

    name = "tcan_calibrate_reference.png"
    shutil.copy(REFERENCE_IMAGE, os.path.join(folder_paths.get_input_directory(), name))
    return name


def test_prompt_on_the_sample_data_runs_and_previews(comfy_nodes):
    _, outputs = harness.execute(calibrate_prompt(copy_sample_image()))
    texts = [o["text"][0] for o in outputs.values() if "text" in o]
    assert any("Procrustes calibration of 100 frame(s) onto a 384x512 canvas" in t for t in texts)
    assert any("No frame fell back" in t and "30 group(s)" in t for t in texts)
    images = [o["images"] for o in outputs.values() if "images" in o]
    assert len(images) == 1 and len(images[0]) == 100


def test_node_computes_what_the_core_computes(comfy_nodes):
    reference, driving = load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)
    retargeted = retarget(reference[0], driving)
    image = sample_image_tensor()
    cal, images, masks, summary = node(comfy_nodes).execute(reference_image=image, reference_pose=reference, driving_pose=retargeted,
                                                          subset_search=True, num_groups=30).args
    expected = calibrate(image[0].numpy(), reference, retargeted, num_groups=30)
    # ComfyUI imports the pack under its own module name, so compare the class by name.
    assert type(cal).__name__ == Calibration.__name__ and summary == expected.summary()
    np.testing.assert_array_equal(cal.matrices, expected.matrices)
    assert images.shape == (100, 512, 384, 3) and images.dtype == torch.float32
    assert masks.shape == (100, 512, 384) and masks.dtype == torch.float32
    np.testing.assert_allclose(images[::17].numpy(), expected.warp_images(range(0, 100, 17)), atol=1e-6)
    np.testing.assert_allclose(masks[::17].numpy(), expected.warp_masks(range(0, 100, 17)), atol=1e-6)
    assert cal.iou_after.mean() > cal.iou_before.mean()


def test_raw_driving_poses_on_another_canvas_and_input_masks(comfy_nodes):
    reference, driving = load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)[:20]
    image = sample_image_tensor()
    plain, images, masks, _ = node(comfy_nodes).execute(reference_image=image, reference_pose=reference, driving_pose=driving,
                                                       subset_search=False, num_groups=4).args
    assert images.shape == (20, 512, 512, 3) and (plain.width, plain.height) == (512, 512)
    assert plain.groups.num_groups == 4 and not plain.fallback.any()
    ref_mask = torch.from_numpy(plain.reference_mask)[None]
    cal, _, _, summary = node(comfy_nodes).execute(reference_image=image, reference_pose=reference, driving_pose=driving,
                                                   subset_search=True, num_groups=30, reference_mask=ref_mask,
                                                   driving_masks=masks).args
    assert "input mask for the reference, input masks for the driving frames" in summary
    assert len(cal) == 20 and np.isfinite(cal.matrices).all()


def test_bad_input_fails_with_the_pack_s_message_not_a_crash(comfy_nodes):
    solid = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 64, "height": 64}}
    with pytest.raises(AssertionError) as failure:
        harness.execute(calibrate_prompt(copy_sample_image(), driving_masks=solid))
    message = str(failure.value)
    assert "ValueError" in message and "the driving masks have 1 frame(s) but the driving pose has 100" in message


def test_progress_reaches_the_end_in_chunks(comfy_nodes):
    import comfy.utils

    calls = []
    previous = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, node_id=None: calls.append((value, total)))
    try:
        reference, driving = load_pose_json(REFERENCE_POSE), load_pose_json(DRIVING_POSE)
        node(comfy_nodes).execute(reference_image=sample_image_tensor(), reference_pose=reference,
                                  driving_pose=driving * 2, subset_search=True, num_groups=30)
    finally:
        comfy.utils.set_progress_bar_global_hook(previous)
    assert calls[-1] == (400, 400)  # 200 frames calibrated, then 200 warped
    assert 8 <= len(calls) <= 20 and all(b[0] > a[0] for a, b in itertools.pairwise(calls))
