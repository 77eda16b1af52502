"""Static checks of every bundled workflow (no ComfyUI needed; tests/comfy validates them for real)."""

import glob
import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKFLOWS = sorted(glob.glob(os.path.join(ROOT, "workflows", "*.json")))
# Nodes from outside the pack the bundled workflows may use: core nodes of ComfyUI >= 0.3.64, and
# comfyui_controlnet_aux's DWPose Estimator (named in the README as tcan_from_video.json's requirement).
OTHER_NODES = {"MarkdownNote", "Note", "CreateVideo", "SaveVideo", "PreviewAny", "PreviewImage", "SaveImage",
              "ControlNetApplyAdvanced", "LoadVideo", "GetVideoComponents", "DWPreprocessor",
              "LoadImage", "CheckpointLoaderSimple", "ControlNetLoader", "CLIPTextEncode", "VAEDecode",
              "VAEEncode", "EmptyLatentImage", "KSampler"}


def pack_node_ids():
    ids = set()
    for path in glob.glob(os.path.join(ROOT, "nodes", "*.py")):
        with open(path) as f:
            ids |= set(re.findall(r'node_id="([A-Za-z0-9_]+)"', f.read()))
    return ids


def test_there_are_workflows_and_the_pack_defines_nodes():
    assert WORKFLOWS and {"TCANPoseRetarget", "TCANRenderPose"} <= pack_node_ids()


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_workflow_is_consistent_ui_format(path):
    with open(path) as f:
        wf = json.load(f)
    assert wf["version"] == 0.4 and isinstance(wf["nodes"], list) and isinstance(wf["links"], list)
    nodes = {n["id"]: n for n in wf["nodes"]}
    assert len(nodes) == len(wf["nodes"]) and wf["last_node_id"] >= max(nodes)
    assert wf["last_link_id"] >= max((l[0] for l in wf["links"]), default=0)
    known = pack_node_ids() | OTHER_NODES
    for n in wf["nodes"]:
        assert n["type"] in known, f"{os.path.basename(path)}: unknown node type {n['type']}"
        assert n.get("mode", 0) == 0, "bundled workflows have no muted or bypassed nodes"
    for link_id, src, src_slot, dst, dst_slot, type_ in wf["links"]:
        out = nodes[src]["outputs"][src_slot]
        inp = nodes[dst]["inputs"][dst_slot]
        assert link_id in out["links"] and inp["link"] == link_id
        assert type_ == out["type"] and inp["type"] in (type_, "*")
    linked = {l[0] for l in wf["links"]}
    for n in wf["nodes"]:
        for inp in n.get("inputs", []):
            assert inp["link"] is None or inp["link"] in linked
        for out in n.get("outputs", []):
            assert set(out["links"] or []) <= linked
