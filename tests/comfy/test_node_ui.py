"""What the frontend shows of the pack's nodes: a tooltip on every input, text on the node after a run.

(tests/comfy/test_browser.py checks the same in a real browser.)
"""

import os

from . import harness
from .models import CONTROLNET, MOTION_V2, model_path, sd15


def pack_inputs(nodes):
    """(node id, input name, V1 spec) of every visible input of every pack node, as /object_info lists them."""
    for node_id in harness.PACK_NODE_IDS:
        info = nodes.NODE_CLASS_MAPPINGS[node_id].GET_NODE_INFO_V1()
        for section in ("required", "optional"):
            for name, spec in (info["input"].get(section) or {}).items():
                yield node_id, name, spec


def test_every_input_of_every_pack_node_has_a_tooltip(comfy_nodes):
    inputs = list(pack_inputs(comfy_nodes))
    assert len(inputs) > 60 and {node_id for node_id, _, _ in inputs} == set(harness.PACK_NODE_IDS)
    missing = [f"{node_id}.{name}" for node_id, name, spec in inputs
               if len(spec) < 2 or len((spec[1] or {}).get("tooltip", "").strip()) < 20]
    assert not missing, f"inputs without a (real) tooltip: {missing}"


def shown_text(output):
    """The text a node shows on itself (its V3 UI output)."""
    return output.ui.as_dict()["text"][0]


def test_retarget_and_save_show_their_notes_and_path_on_the_node(comfy_nodes):
    import folder_paths

    load = comfy_nodes.NODE_CLASS_MAPPINGS["TCANLoadPoseJSON"]
    reference, _ = load.execute(pose_file="(TCAN sample) reference_pose.json", canvas_width=0, canvas_height=0).args
    driving, _ = load.execute(pose_file="(TCAN sample) driving_pose.json", canvas_width=0, canvas_height=0,
                               frame_limit=10).args
    retarget = comfy_nodes.NODE_CLASS_MAPPINGS["TCANPoseRetarget"].execute(
        reference_pose=reference, driving_pose=driving, anchor_frame=0, position="reference", smoothing=0.0,
        symmetric_limbs=True)
    pose, _, notes = retarget.args
    assert shown_text(retarget).startswith("10 frame(s) retargeted onto a 384x512 canvas.")
    assert notes == "ok" or notes in shown_text(retarget)
    saved = comfy_nodes.NODE_CLASS_MAPPINGS["TCANSavePoseJSON"].execute(pose=pose, filename_prefix="tcan/ui_test")
    text = shown_text(saved)
    relative = text.split()[4]
    assert text.startswith("saved 10 frame(s) to tcan/ui_test_") and text.endswith("in ComfyUI's output folder")
    assert os.path.isfile(os.path.join(folder_paths.get_output_directory(), relative))


def test_load_tcan_shows_what_it_loaded(comfy_nodes):
    import comfy.controlnet
    import folder_paths

    model, _, _ = sd15()
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    folder_paths.add_model_folder_path("animatediff_models",
                                       os.path.dirname(model_path("animatediff_models", MOTION_V2)))
    loaded = comfy_nodes.NODE_CLASS_MAPPINGS["TCANLoadTCAN"].execute(
        model=model, control_net=control_net, motion_module=MOTION_V2, reference_attention=True,
        reference_for_uncond=False, temporal_controlnet=False, ptm_tau=2.5, groupnorm="auto", beta_schedule="sqrt_linear")
    lines = shown_text(loaded).splitlines()
    assert lines[0].startswith("TCAN zero-shot: ") and lines[0].endswith(f"motion modules from {MOTION_V2}")
    assert "reference attention on, strength 1" in lines and "temporal ControlNet off" in lines
    assert "PTM tau 2.5" in lines  # auto -> per frame for a v2 module and the stock ControlNet:
    assert "GroupNorm of the res blocks: per frame in the UNet, per frame in the ControlNet" in lines
