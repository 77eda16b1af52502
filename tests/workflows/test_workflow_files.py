"""Static checks of every bundled workflow (no ComfyUI needed; tests/comfy validates them for real)."""

import glob
import json
import os
import re

import cv2
import pytest

from .layout import layout_problems

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


def load(path):
    with open(path) as f:
        return json.load(f)


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_workflow_has_an_id_and_a_square_thumbnail_for_the_templates_dialog(path):
    """The Templates dialog titles a pack's workflow by its file name and shows <name>.jpg beside it."""
    assert re.fullmatch(r"[a-z_]+", load(path)["extra"]["tcan_workflow"])
    thumbnail = cv2.imread(path[:-len(".json")] + ".jpg")
    assert thumbnail is not None, f"no thumbnail beside {os.path.basename(path)} (scripts/make_thumbnails.py)"
    assert thumbnail.shape[0] == thumbnail.shape[1] >= 256


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_nodes_name_the_pack_that_provides_them(path):
    """So the missing-nodes dialog and ComfyUI-Manager can name and install it (registry ids)."""
    for node in load(path)["nodes"]:
        pack = node["properties"].get("cnr_id")
        if node["type"] in pack_node_ids():
            assert pack == "tcan-animate"
        elif node["type"] == "DWPreprocessor":
            assert pack == "comfyui_controlnet_aux"
        else:
            assert pack == "comfy-core" and node["properties"]["ver"] == "0.3.64"


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_reroutes_carry_links_of_one_output_each(path):
    """The frontend draws a reroute's links from a single output; a chain must end at its links' parent."""
    wf = load(path)
    links = {link[0]: link for link in wf["links"]}
    reroutes = {r["id"]: r for r in wf["extra"].get("reroutes", [])}
    for reroute in reroutes.values():
        assert len({tuple(links[i][1:3]) for i in reroute["linkIds"]}) == 1, reroute
        assert reroute.get("parentId") is None or reroute["parentId"] in reroutes
    for extension in wf["extra"].get("linkExtensions", []):
        assert extension["id"] in links and extension["id"] in reroutes[extension["parentId"]]["linkIds"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=os.path.basename)
def test_saved_layout_has_no_overlaps(path):
    """With the saved sizes (tests/comfy/test_browser.py checks the sizes the frontend draws): node
    boxes with their 30 px title and the 22 px badge above it do not overlap, each sits in one group."""
    wf = load(path)
    nodes = [{"id": n["id"], "type": n["type"], "title": n.get("title", n["type"]), "pos": n["pos"],
              "size": n["size"], "badge": 22} for n in wf["nodes"]]
    groups = [{**g, "titleHeight": g["font_size"] * 1.4} for g in wf["groups"]]
    assert not layout_problems(nodes, groups, 30)


def test_the_bundled_workflows_are_what_the_builder_writes(tmp_path, monkeypatch, capsys):
    """workflows/ is generated by scripts/build_workflows.py: a hand edit, or a builder change without
    regenerating, shows here (run `python scripts/build_workflows.py` from the repo root)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_workflows", os.path.join(ROOT, "scripts", "build_workflows.py"))
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    monkeypatch.setattr(builder, "OUT_DIR", str(tmp_path))
    builder.build_all()
    built = sorted(os.listdir(tmp_path))
    assert built == [os.path.basename(p) for p in WORKFLOWS]
    for name in built:
        with open(tmp_path / name) as a, open(os.path.join(ROOT, "workflows", name)) as b:
            assert a.read() == b.read(), f"workflows/{name} differs from what scripts/build_workflows.py writes"
