"""The bundled workflows as a user meets them: a real ComfyUI server with the pack, its web frontend in
Chromium, each workflow opened from the Templates dialog.

Skipped without COMFYUI_PATH (conftest), without Python playwright, or without a Chromium binary
(TCAN_CHROMIUM, else chromium / chromium-browser on PATH; playwright's own browser download is not
needed). TCAN_SCREENSHOTS names a folder for a screenshot of every loaded workflow (and of
pose_retarget after its run); TCAN_TEST_MODELS and TCAN_EXTRA_NODE_PACKS are used as in the other
tests. The server runs `python COMFYUI_PATH/main.py --cpu` on a free localhost port with this pack
(and the extra packs) linked into a temporary custom_nodes folder; ComfyUI's tree is not modified.
"""

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

from . import harness
from ..workflows.layout import layout_problems
from .bundled import SUBSTITUTES

CATEGORY = "ComfyUI-TCAN"  # the pack's folder name in custom_nodes, the Templates dialog's category
# Node types the bundled workflows may use from a documented extra pack (README: tcan_from_video needs
# comfyui_controlnet_aux), with the registry id their properties must name.
EXTRA_PACK_NODES = {"DWPreprocessor": "comfyui_controlnet_aux"}
FRONTEND_ONLY = {"MarkdownNote", "Note"}
MODEL_FILES = set(SUBSTITUTES)  # the public model file names the workflows ask for (README's table)
WORKFLOW_FILES = sorted(glob.glob(os.path.join(harness.PACK_DIR, "workflows", "*.json")))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path():
    candidates = [os.environ.get("TCAN_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def server():
    """A ComfyUI server with the pack; yields its base URL."""
    pytest.importorskip("playwright.sync_api", reason="needs Python playwright (pip install playwright)")
    if not chromium_path():
        pytest.skip("needs a Chromium binary: set TCAN_CHROMIUM or install Debian's chromium package")
    root = tempfile.mkdtemp(prefix="tcan-browser-")
    dirs = {name: os.path.join(root, name) for name in ("custom_nodes", "input", "output", "temp", "user")}
    for path in dirs.values():
        os.makedirs(path)
    os.symlink(harness.PACK_DIR, os.path.join(dirs["custom_nodes"], CATEGORY))
    for extra in filter(None, os.environ.get("TCAN_EXTRA_NODE_PACKS", "").split(os.pathsep)):
        os.symlink(os.path.abspath(extra), os.path.join(dirs["custom_nodes"], os.path.basename(extra.rstrip("/"))))
    from tcan_core.samples import REFERENCE_IMAGE

    shutil.copy(REFERENCE_IMAGE, os.path.join(dirs["input"], "reference.png"))  # "your" files in tcan_from_video
    open(os.path.join(dirs["input"], "driving.mp4"), "wb").close()
    config = os.path.join(root, "extra_model_paths.yaml")
    with open(config, "w") as f:
        f.write(f"tcan_test:\n  custom_nodes: {json.dumps(dirs['custom_nodes'])}\n")
        models = os.environ.get("TCAN_TEST_MODELS")
        if models:
            f.write(f"  base_path: {json.dumps(os.path.abspath(models))}\n")
            for folder in ("checkpoints", "controlnet", "animatediff_models", "tcan"):
                f.write(f"  {folder}: {folder}/\n")
    port = free_port()
    comfy = os.path.abspath(os.environ["COMFYUI_PATH"])
    log_path = os.path.join(root, "server.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, os.path.join(comfy, "main.py"), "--cpu", "--listen", "127.0.0.1", "--port", str(port),
             "--extra-model-paths-config", config, "--output-directory", dirs["output"],
             "--input-directory", dirs["input"], "--temp-directory", dirs["temp"], "--user-directory", dirs["user"],
             "--database-url", "sqlite:///" + os.path.join(root, "comfyui.db")],
            cwd=comfy, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180
        while True:
            try:
                get_json(base + "/system_stats")
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    with open(log_path) as f:
                        raise RuntimeError("the ComfyUI server did not start:\n" + f.read()[-3000:])
                time.sleep(0.5)
        yield {"url": base, "output": dirs["output"]}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="tcan-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), args=CHROMIUM_FLAGS, viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(server["url"])
        page.wait_for_function("window.comfyAPI?.app?.app?.graph", timeout=120_000)
        # tidier screenshots: no minimap, no canvas statistics (this profile's own settings)
        page.evaluate("""async () => { const settings = window.comfyAPI.app.app.extensionManager.setting;
                          await settings.set('Comfy.Minimap.Visible', false);
                          await settings.set('Comfy.Graph.CanvasInfo', false); }""")
        yield page
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def open_template(page, name):
    """Opens workflows/<name>.json as a user does: Templates dialog, the pack's category, its card."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with open(os.path.join(harness.PACK_DIR, "workflows", name + ".json")) as f:
        workflow = json.load(f)
    category = page.get_by_text(CATEGORY, exact=True)
    if not category.is_visible():
        page.evaluate("window.comfyAPI.app.app.extensionManager.command.execute('Comfy.BrowseTemplates')")
    category.wait_for(state="visible", timeout=60_000)
    category.click()
    card = page.locator(f'[data-testid="template-workflow-{name}"]')
    card.wait_for(state="visible", timeout=30_000)
    card.scroll_into_view_if_needed()
    thumbnail = card.locator("img")
    try:  # the card's image may load lazily; a missing .jpg never gets a width
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle(),
                               timeout=10_000)
    except PlaywrightTimeout:
        pass
    shown = {"title": card.locator("h3").inner_text(),
             "thumbnail": thumbnail.evaluate("img => [img.naturalWidth, img.naturalHeight]")}
    # the loaded graph replaces this marker with the workflow's own extra.tcan_workflow
    page.evaluate("window.comfyAPI.app.app.graph.extra.tcan_workflow = 'loading'")
    card.click()
    page.wait_for_function("([id, n]) => { const g = window.comfyAPI.app.app.graph; "
                           "return g.extra.tcan_workflow === id && g._nodes.length === n; }",
                           arg=[workflow["extra"]["tcan_workflow"], len(workflow["nodes"])])
    page.wait_for_timeout(500)  # DOM widgets and previews settle
    return workflow, shown


def close_missing_nodes_dialog(page):
    """The node types the 'Some Nodes Are Missing' dialog lists (and closes it), or []."""
    dialog = page.get_by_text("Some Nodes Are Missing")
    if not dialog.is_visible():
        return []
    listed = page.locator(".comfy-missing-nodes li").all_inner_texts()
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")
    return sorted(text.strip() for text in listed)


GEOMETRY = """() => {
  const { LiteGraph } = window;
  const app = window.comfyAPI.app.app;
  return {
    titleHeight: LiteGraph.NODE_TITLE_HEIGHT,
    nodes: app.graph._nodes.map(n => ({
      id: n.id, type: n.type, title: n.title, pos: [...n.pos], size: [...n.size],
      badge: Math.max(0, ...(n.badges || []).map(b => typeof b === "function" ? b() : b)
                                            .filter(b => b.text).map(b => b.height + 2)),
      widgets: (n.widgets || []).filter(w => w.serialize !== false).map(w => ({
        name: w.name, type: w.type, value: w.value, values: w.options?.values, min: w.options?.min,
        max: w.options?.max})),
      properties: n.properties})),
    groups: app.graph._groups.map(g => ({title: g.title, bounding: [...g._bounding], titleHeight: g.titleHeight})),
  };
}"""


def invalid_widget_values(geometry):
    problems = []
    for node in geometry["nodes"]:
        for widget in node["widgets"]:
            value, where = widget["value"], f'{node["title"]}.{widget["name"]} = {widget["value"]!r}'
            if widget["type"] == "combo":
                if value not in (widget["values"] or []) and value not in MODEL_FILES:
                    problems.append(where + " is not an option")
            elif widget["type"] == "number":
                low, high = widget["min"], widget["max"]
                if (low is not None and value < low) or (high is not None and value > high):
                    problems.append(where + f" is outside {widget['min']}..{widget['max']}")
            elif widget["type"] == "toggle" and not isinstance(value, bool):
                problems.append(where + " is not a boolean")
    return problems


OVERVIEW = """([width, height]) => {
  const app = window.comfyAPI.app.app, canvas = app.canvas;
  const boxes = [...app.graph._nodes.map(n => n.boundingRect), ...app.graph._groups.map(g => g._bounding)];
  const left = Math.min(...boxes.map(b => b[0])) - 40, top = Math.min(...boxes.map(b => b[1])) - 80;
  const right = Math.max(...boxes.map(b => b[0] + b[2])) + 40, bottom = Math.max(...boxes.map(b => b[1] + b[3])) + 40;
  const scale = Math.min(1, width / (right - left), height / (bottom - top));
  canvas.ds.scale = scale;
  canvas.ds.offset = [-left, -top];
  canvas.setDirty(true, true);
}"""


def screenshot(page, name, suffix=""):
    """Into TCAN_SCREENSHOTS: the view the workflow opens with, and the whole workflow at 2400x1500."""
    folder = os.environ.get("TCAN_SCREENSHOTS")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    page.screenshot(path=os.path.join(folder, name + suffix + ".png"))
    view = page.evaluate("(({scale, offset}) => ({scale, offset: [...offset]}))(window.comfyAPI.app.app.canvas.ds)")
    size = page.viewport_size
    page.set_viewport_size({"width": 2400, "height": 1500})
    page.wait_for_timeout(300)
    page.evaluate(OVERVIEW, [2400 - 60, 1500 - 120])
    page.wait_for_timeout(500)
    page.screenshot(path=os.path.join(folder, name + suffix + " (whole).png"))
    page.set_viewport_size(size)
    page.evaluate("v => { const c = window.comfyAPI.app.app.canvas; c.ds.scale = v.scale; c.ds.offset = v.offset; "
                  "c.setDirty(true, true); }", view)


def test_the_templates_dialog_lists_every_bundled_workflow(server):
    listed = get_json(server["url"] + "/workflow_templates")[CATEGORY]
    assert sorted(listed) == sorted(os.path.basename(path)[:-5] for path in WORKFLOW_FILES)


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: os.path.basename(path)[:-5])
def test_workflow_opens_from_the_templates_dialog_tidy_and_valid(server, page, path):
    name = os.path.basename(path)[:-5]
    workflow, shown = open_template(page, name)
    assert shown["title"] == name
    assert shown["thumbnail"][0] > 100 and shown["thumbnail"][1] > 100, f"no thumbnail {name}.jpg on the card"
    missing = close_missing_nodes_dialog(page)
    known = set(get_json(server["url"] + "/object_info")) | FRONTEND_ONLY
    expected_missing = sorted({n["type"] for n in workflow["nodes"]} - known)
    assert missing == expected_missing
    assert set(missing) <= set(EXTRA_PACK_NODES), f"{name} needs node types of no documented pack: {missing}"
    geometry = page.evaluate(GEOMETRY)
    screenshot(page, name)
    for node in geometry["nodes"]:
        if node["type"] in EXTRA_PACK_NODES:
            assert node["properties"].get("cnr_id") == EXTRA_PACK_NODES[node["type"]], node["title"]
    assert not layout_problems(geometry["nodes"], geometry["groups"], geometry["titleHeight"])
    assert not invalid_widget_values(geometry)


def test_pose_retarget_runs_from_the_page_and_shows_both_videos_and_the_json_path(server, page):
    name = next(os.path.basename(p)[:-5] for p in WORKFLOW_FILES if os.path.basename(p).startswith("Pose retarget"))
    open_template(page, name)
    assert close_missing_nodes_dialog(page) == []
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_function("""() => [...document.querySelectorAll('video')].filter(v => v.src.includes('pose_retarget'))
                                     .length === 2""", timeout=300_000)
    sources = page.evaluate("[...document.querySelectorAll('video')].map(v => decodeURIComponent(v.src))")
    assert any("pose_retarget_0" in s for s in sources) and any("pose_retarget_preview_0" in s for s in sources)
    texts = page.evaluate("""() => Object.fromEntries(window.comfyAPI.app.app.graph._nodes
        .filter(n => n.widgets?.some(w => w.name === 'tcan_output_text'))
        .map(n => [n.type, n.widgets.find(w => w.name === 'tcan_output_text').value]))""")
    saved = texts["TCANSavePoseJSON"]
    assert saved.startswith("saved 100 frame(s) to tcan/retargeted_pose_") and ".json" in saved
    relative = saved.split()[4]
    assert os.path.isfile(os.path.join(server["output"], relative)), relative
    assert texts["TCANPoseRetarget"].startswith("100 frame(s) retargeted onto a 384x512 canvas.")
    page.wait_for_timeout(1000)  # the video previews take their size
    screenshot(page, name, " (after a run)")
    after = page.evaluate(GEOMETRY)  # the text boxes and video previews a run adds fit the room left for them
    assert not layout_problems(after["nodes"], after["groups"], after["titleHeight"])
