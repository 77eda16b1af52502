"""The bundled workflows as API prompts, with the model files they name swapped for the test files."""

import glob
import json
import os

from . import harness
from .models import CHECKPOINT, MOTION_V2, model_path
from .ui_to_api import convert

WORKFLOW_DIR = os.path.join(harness.PACK_DIR, "workflows")
# model file names used in the bundled workflows -> (folder, random test file)
SUBSTITUTES = {
    "v1-5-pruned-emaonly.safetensors": ("checkpoints", CHECKPOINT),
    "mm_sd_v15_v2.ckpt": ("animatediff_models", MOTION_V2),
    "control_v11p_sd15_openpose.pth": ("controlnet", "openpose_random.safetensors"),
}


def _user_files():
    """The files the 'your own' workflows name in ComfyUI/input (reference.png, driving.mp4)."""
    import shutil

    import folder_paths
    import numpy as np

    from tcan_core.samples import REFERENCE_IMAGE
    from tcan_core.video import write_mp4

    root = folder_paths.get_input_directory()
    if not os.path.exists(os.path.join(root, "reference.png")):
        shutil.copy(REFERENCE_IMAGE, os.path.join(root, "reference.png"))
    if not os.path.exists(os.path.join(root, "driving.mp4")):
        write_mp4(os.path.join(root, "driving.mp4"), np.zeros((4, 64, 64, 3), np.uint8), 25)


def workflow_path(name):
    """The bundled workflow named by its short id ("tcan_zero_shot.json", kept in its extra.tcan_workflow;
    the files are named by the titles the Templates dialog shows) or by its file name."""
    for path in glob.glob(os.path.join(WORKFLOW_DIR, "*.json")):
        with open(path) as f:
            if name in (os.path.basename(path), json.load(f)["extra"].get("tcan_workflow") + ".json"):
                return path
    raise FileNotFoundError(f"no bundled workflow {name} in {WORKFLOW_DIR}")


def bundled_prompt(name, nodes, overrides=None):
    """A bundled workflow (see workflow_path) -> API prompt; overrides: {class_type: {input: value}} (e.g.
    smaller sizes)."""
    _user_files()
    with open(workflow_path(name)) as f:
        prompt = convert(json.load(f), nodes)
    for node in prompt.values():
        inputs = node["inputs"]
        for key, value in list(inputs.items()):
            if isinstance(value, str) and value in SUBSTITUTES:
                folder, test_file = SUBSTITUTES[value]
                model_path(folder, test_file)  # skips the test when the file is not there
                inputs[key] = test_file
        inputs.update((overrides or {}).get(node["class_type"], {}))
    return prompt
