"""Writes the bundled UI-format workflows in workflows/ (run from the repo root after changing a node).

The workflows are the files users load; this script keeps their JSON consistent (ids, link table,
slot lists) and lays them out for people: stages from left to right in titled groups, nodes sized
as the ComfyUI frontend draws them, room for the text and video previews a run adds. Output is
deterministic. tests/comfy/test_browser.py checks the layout in the real frontend.

ComfyUI's Templates dialog shows a custom node pack's workflow by its file name (as the card's
title and, with - and _ as spaces, its description) and `<file name>.jpg` as its thumbnail
(ComfyUI_frontend: workflowTemplatesStore, useTemplateWorkflows), so each file is named by its
title; `extra.tcan_workflow` keeps a short id for scripts and tests. The thumbnails come from
scripts/make_thumbnails.py.
"""

import json
import os
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "workflows")  # tests/workflows builds into a temporary folder and compares

# Workflow id -> file name (the title the Templates dialog shows; no characters that need quoting in a URL).
TITLES = {
    "tcan_zero_shot": "TCAN - animate a picture with a pose sequence",
    "tcan_tpc": "TCAN and TPC - animate with calibrated references",
    "tcan_from_video": "TCAN - animate your picture with your video (DWPose)",
    "pose_retarget": "Pose retarget - fit poses to the reference person (no models)",
    "motion_module_clip": "Motion module - a 16-frame clip with KSampler",
    "pose_controlnet_clip": "Temporal ControlNet - a 16-frame pose clip with KSampler",
}

# How ComfyUI's frontend (1.27, measured in the browser) draws a node: a 30 px title bar, above it a
# 20 px node-source badge with a 2 px gap, and a body of 20 px per socket row + 24 px per widget + 14.
TITLE_HEIGHT, BADGE_HEIGHT = 30, 22
SLOT_HEIGHT, WIDGET_HEIGHT, BODY_MARGIN = 20, 24, 14
GROUP_TITLE_HEIGHT = 34      # group font 24 px * 1.4
GROUP_PADDING = 16
NODE_GAP, COLUMN_GAP, GROUP_GAP = 24, 60, 60

# The ComfyUI version whose core nodes the workflows use (the frontend names it when one is missing).
CORE = {"cnr_id": "comfy-core", "ver": "0.3.64"}
PACK = {"cnr_id": "tcan-animate"}  # this pack's registry id (pyproject.toml)
CONTROLNET_AUX = {"cnr_id": "comfyui_controlnet_aux"}  # registry id of the DWPose Estimator's pack

POSES, REFERENCE, MODELS, SAMPLING, OUTPUT = ("#3f789e", "#b58b2a", "#a1309b", "#8A8", "#b06634")


def text_box(lines):
    """Room for the read-only text box web/tcan_text_outputs.js adds to a node after a run (its
    textarea is at least 60 px high; longer text scrolls)."""
    return 8 + 16 * max(4, lines)


class Workflow:
    """A minimal builder for the frontend's UI workflow format (schema version 0.4)."""

    def __init__(self, name):
        self.name = name
        self.nodes, self.links, self.groups = [], [], []
        self.reroutes, self.link_extensions = [], {}

    def node(self, type_, widgets=(), inputs=(), outputs=(), width=340, extra_height=0, title=None, pack=None):
        """inputs: [(name, TYPE)] sockets, (name, TYPE, "widget") for a widget turned into a socket;
        outputs: [(name, TYPE)]; widgets: widgets_values. The height is the drawn body's plus
        extra_height (room for a multiline widget or what a run shows); place it with column()."""
        rows = max(len([i for i in inputs if len(i) == 2]), len(outputs))
        height = SLOT_HEIGHT * rows + WIDGET_HEIGHT * len(widgets) + BODY_MARGIN + extra_height
        if pack is None:
            pack = PACK if type_.startswith("TCAN") else CORE
        node = {
            "id": len(self.nodes) + 1, "type": type_, "pos": [0, 0], "size": [width, height], "flags": {},
            "order": len(self.nodes), "mode": 0,
            "inputs": [{"name": i[0], "type": i[1], "link": None, **({"widget": {"name": i[0]}} if len(i) > 2 else {})}
                       for i in inputs],
            "outputs": [{"name": n, "type": t, "links": [], "slot_index": i} for i, (n, t) in enumerate(outputs)],
            "properties": {"Node name for S&R": type_, **pack},
            "widgets_values": list(widgets),
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node["id"]

    def note(self, lines, width=760):
        """A Markdown note: a title and a few short lines (the frontend's text is 10 px at 100% zoom)."""
        text = f"## {lines[0]}\n" + "\n".join(f"- {line}" for line in lines[1:])
        height = 58 + 16 * len(lines[1:])  # title and its margin, list lines, padding
        return self.node("MarkdownNote", [text], width=width, extra_height=height - WIDGET_HEIGHT - BODY_MARGIN)

    def link(self, src, src_slot, dst, dst_input):
        src_node, dst_node = self.nodes[src - 1], self.nodes[dst - 1]
        slot = [i["name"] for i in dst_node["inputs"]].index(dst_input)
        link_id = len(self.links) + 1
        type_ = src_node["outputs"][src_slot]["type"]
        self.links.append([link_id, src, src_slot, dst, slot, type_])
        src_node["outputs"][src_slot]["links"].append(link_id)
        dst_node["inputs"][slot]["link"] = link_id

    def input_link(self, node_id, name):
        return next(i["link"] for i in self.nodes[node_id - 1]["inputs"] if i["name"] == name)

    def input_y(self, node_id, name):
        """Where the frontend draws a socket input (a widget's socket sits on the widget, below the rows)."""
        node = self.nodes[node_id - 1]
        rows = [i["name"] for i in node["inputs"] if "widget" not in i]
        if name in rows:
            return node["pos"][1] + SLOT_HEIGHT * (rows.index(name) + 0.7)
        widgets = [i["name"] for i in node["inputs"] if "widget" in i]
        return node["pos"][1] + SLOT_HEIGHT * len(rows) + 6 + WIDGET_HEIGHT * (widgets.index(name) + 0.5)

    def output_y(self, node_id, slot):
        return self.nodes[node_id - 1]["pos"][1] + SLOT_HEIGHT * (slot + 0.7)

    def bottom(self, node_id):
        node = self.nodes[node_id - 1]
        return node["pos"][1] + node["size"][1]

    def before(self, node_id):
        """The middle of the gap left of a node's column."""
        return self.nodes[node_id - 1]["pos"][0] - COLUMN_GAP / 2

    def after(self, node_id):
        """The middle of the gap right of a node's column."""
        node = self.nodes[node_id - 1]
        return node["pos"][0] + node["size"][0] + COLUMN_GAP / 2

    def route_down(self):
        """Links into a node below their source in the same column go out to the right, through the
        space between the two nodes and in from the left, rather than back across the source."""
        for link_id, src, slot, dst, dst_slot, _ in self.links:
            source, target = self.nodes[src - 1], self.nodes[dst - 1]
            below = source["pos"][0] == target["pos"][0] and target["pos"][1] > source["pos"][1]
            if link_id in self.link_extensions or not below:
                continue
            between = target["pos"][1] - TITLE_HEIGHT - BADGE_HEIGHT - NODE_GAP / 2
            self.route([link_id], [(self.after(src) - 12, between), (self.before(dst) + 12, between)])

    def route(self, link_ids, points, parent=None):
        """Runs links through reroute points (the frontend's native reroutes, after `parent`) around the
        nodes in their way; returns the last reroute, from which further points can branch off."""
        for point in points:
            reroute = {"id": len(self.reroutes) + 1, "pos": [round(point[0]), round(point[1])],
                       "linkIds": list(link_ids), **({"parentId": parent} if parent else {})}
            self.reroutes.append(reroute)
            parent = reroute["id"]
        for link_id in link_ids:
            self.link_extensions[link_id] = parent
        return parent

    def column(self, x, top, ids):
        """Stacks nodes from `top` (the top of the first one's badge) down at x; returns (right, bottom)."""
        right = x
        for node_id in ids:
            node = self.nodes[node_id - 1]
            node["pos"] = [x, top + BADGE_HEIGHT + TITLE_HEIGHT]
            top = node["pos"][1] + node["size"][1] + NODE_GAP
            right = max(right, x + node["size"][0])
        return right, top - NODE_GAP

    def columns(self, x, top, *columns):
        """Columns of nodes side by side from x; returns (right, bottom) of the block."""
        bottom = top
        for ids in columns:
            right, column_bottom = self.column(x, top, ids)
            x, bottom = right + COLUMN_GAP, max(bottom, column_bottom)
        return x - COLUMN_GAP, bottom

    def group(self, title, color, x, top, *columns):
        """A titled group holding columns of nodes; returns (right, bottom) of the group."""
        inner = top + GROUP_TITLE_HEIGHT + GROUP_PADDING
        right, bottom = self.columns(x + GROUP_PADDING, inner, *columns)
        right, bottom = right + GROUP_PADDING, bottom + GROUP_PADDING
        self.groups.append({"id": len(self.groups) + 1, "title": title, "bounding": [x, top, right - x, bottom - top],
                            "color": color, "font_size": 24, "flags": {}})
        return right, bottom

    def to_json(self):
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "tcan/" + self.name)), "revision": 0,
            "last_node_id": len(self.nodes), "last_link_id": len(self.links),
            "nodes": self.nodes, "links": self.links, "groups": self.groups, "config": {},
            "extra": {"ds": self.view(), "tcan_workflow": self.name,
                      **({"reroutes": self.reroutes,
                          "linkExtensions": [{"id": link_id, "parentId": parent}
                                             for link_id, parent in sorted(self.link_extensions.items())]}
                         if self.reroutes else {})},
            "version": 0.4,
        }

    def view(self, screen=(1600, 900)):
        """The frontend's initial view: the whole workflow at the largest zoom (at most 1) that fits, or
        its top left at the smallest zoom that still shows text."""
        boxes = [[*g["bounding"][:2], g["bounding"][0] + g["bounding"][2], g["bounding"][1] + g["bounding"][3]]
                 for g in self.groups]
        boxes += [[n["pos"][0], n["pos"][1] - TITLE_HEIGHT - BADGE_HEIGHT, n["pos"][0] + n["size"][0],
                   n["pos"][1] + n["size"][1]] for n in self.nodes]
        left, top = min(b[0] for b in boxes) - 40, min(b[1] for b in boxes) - 40
        right, bottom = max(b[2] for b in boxes) + 40, max(b[3] for b in boxes) + 40
        # At least 0.6: below ~0.57 the canvas stops drawing text (MinFontSizeForLOD 8 / 14 px).
        scale = round(max(0.6, min(1.0, screen[0] / (right - left), screen[1] / (bottom - top))), 2)
        return {"scale": scale, "offset": [-left, -top]}

    def write(self):
        self.route_down()
        path = os.path.join(OUT_DIR, TITLES[self.name] + ".json")
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")
        print("wrote", path)


POSE = "POSE_KEYPOINT"
SD15 = "v1-5-pruned-emaonly.safetensors"
OPENPOSE = "control_v11p_sd15_openpose.pth"
MOTION_MODULE = "mm_sd_v15_v2.ckpt"
VIDEO_PREVIEW = 480  # room for a Save Video node's preview (a portrait video at the node's width)


# Building blocks several workflows share: each adds its nodes and links and returns node ids.
def checkpoint(w):
    return w.node("CheckpointLoaderSimple", [SD15], width=380,
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])


def openpose_controlnet(w):
    return w.node("ControlNetLoader", [OPENPOSE], width=380, outputs=[("CONTROL_NET", "CONTROL_NET")])


def prompt(w, clip_source, text, title=None):
    node = w.node("CLIPTextEncode", [text], width=380, extra_height=36, inputs=[("clip", "CLIP")],
                  outputs=[("CONDITIONING", "CONDITIONING")], title=title)
    w.link(clip_source, 1, node, "clip")
    return node


def sample_poses(w):
    """The bundled reference and driving pose files -> (reference loader, driving loader)."""
    ref = w.node("TCANLoadPoseJSON", ["(TCAN sample) reference_pose.json", 0, 0, 0, 0], width=380,
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Reference pose")
    drv = w.node("TCANLoadPoseJSON", ["(TCAN sample) driving_pose.json", 0, 0, 0, 0], width=380,
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Driving poses")
    return ref, drv


def retarget_and_render(w, ref, drv, size, smoothing=1.0, ref_slot=0, drv_slot=0, long_side=0):
    """Pose Retarget + Render Pose at `size` (width, height), or at the canvas's aspect with `long_side`
    -> (retarget, render)."""
    retarget = w.node("TCANPoseRetarget", [0, "reference", smoothing, True], extra_height=text_box(3),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", [size[0], size[1], False, long_side], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    w.link(ref, ref_slot, retarget, "reference_pose")
    w.link(drv, drv_slot, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    return retarget, render


def create_video(w, images_source, images_slot, fps=25.0, fps_source=None, title=None):
    """Create Video from an IMAGE output; fps from a socket when fps_source is given."""
    inputs = [("images", "IMAGE"), ("audio", "AUDIO")] + ([("fps", "FLOAT", "widget")] if fps_source else [])
    video = w.node("CreateVideo", [fps], inputs=inputs, outputs=[("VIDEO", "VIDEO")], title=title)
    w.link(images_source, images_slot, video, "images")
    if fps_source:
        w.link(fps_source[0], fps_source[1], video, "fps")
    return video


def save_video(w, video, name, preview=VIDEO_PREVIEW):
    """Save Video (ComfyUI/output/tcan/<name>) with room for the preview it shows after a run."""
    save = w.node("SaveVideo", ["tcan/" + name, "auto", "auto"], width=360, extra_height=preview,
                  inputs=[("video", "VIDEO")])
    w.link(video, 0, save, "video")
    return save


def decode(w, latent_source, vae_source):
    node = w.node("VAEDecode", inputs=[("samples", "LATENT"), ("vae", "VAE")], outputs=[("IMAGE", "IMAGE")])
    w.link(latent_source, 0, node, "samples")
    w.link(vae_source, 2, node, "vae")
    return node


def stages(w, note, inputs, sampling, output):
    """The note on top, the input groups [(title, colour, columns)] stacked on the left, then the
    Sampling and Output groups (columns of nodes); returns the groups' top (the routes run above)."""
    _, note_bottom = w.column(0, 0, [note])
    top = note_bottom + 80
    right, bottom = 0, top - GROUP_GAP
    for title, colour, columns in inputs:
        group_right, bottom = w.group(title, colour, 0, bottom + GROUP_GAP, *columns)
        right = max(right, group_right)
    right, _ = w.group("Sampling", SAMPLING, right + GROUP_GAP, top, *sampling)
    w.group("Output", OUTPUT, right + GROUP_GAP, top, *output)
    return top


def pose_retarget():
    w = Workflow("pose_retarget")
    note = w.note(["Pose retarget (no model files)",
                   "The sample driving poses get the sample person's proportions and are drawn as OpenPose images.",
                   "Your own video: a pose detector's POSE_KEYPOINT (DWPose Estimator) instead of Load Pose JSON.",
                   "Files go to ComfyUI/output/tcan/."])
    ref, drv = sample_poses(w)
    retarget, render = retarget_and_render(w, ref, drv, (0, 0), smoothing=0.0)
    pose_video = create_video(w, render, 0, title="Create Video (pose)")
    preview_video = create_video(w, retarget, 1, title="Create Video (driving | retargeted)")
    save_json = w.node("TCANSavePoseJSON", ["tcan/retargeted_pose"], inputs=[("pose", POSE)],
                       extra_height=text_box(3))
    w.link(retarget, 0, save_json, "pose")
    save_pose = save_video(w, pose_video, "pose_retarget")
    save_preview = save_video(w, preview_video, "pose_retarget_preview", preview=240)
    _, note_bottom = w.column(0, 0, [note])
    right, _ = w.group("Poses", POSES, 0, note_bottom + 60, [ref, drv], [retarget, render])
    w.group("Output", OUTPUT, right + GROUP_GAP, note_bottom + 60, [pose_video, preview_video, save_json],
            [save_pose, save_preview])
    w.route([w.input_link(save_preview, "video")], [(w.before(save_preview), w.output_y(preview_video, 0)),
                                                    (w.before(save_preview), w.input_y(save_preview, "video"))])
    w.write()


def apply_motion_module(w, model_source):
    motion = w.node("TCANApplyMotionModule", [MOTION_MODULE, "sqrt_linear", "auto", False],
                    inputs=[("model", "MODEL")], outputs=[("MODEL", "MODEL")])
    w.link(model_source, 0, motion, "model")
    return motion


def ksampler(w, model, positive, negative, latent):
    sampler = w.node("KSampler", [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 1.0],
                     inputs=[("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                             ("latent_image", "LATENT")], outputs=[("LATENT", "LATENT")])
    w.link(model[0], model[1], sampler, "model")
    w.link(positive[0], positive[1], sampler, "positive")
    w.link(negative[0], negative[1], sampler, "negative")
    w.link(latent, 0, sampler, "latent_image")
    return sampler


def route_checkpoint(w, top, ckpt, prompts, vae_targets, model=None):
    """The checkpoint's CLIP (to the prompts) and VAE (to vae_targets) and a patched MODEL (model =
    (source, sampler)) run above the groups and down the gaps beside their targets."""
    w.route([w.input_link(p, "clip") for p in prompts],
            [(w.after(ckpt) - 10, top - 50), (w.before(prompts[0]), top - 50)])
    vae_links = [w.input_link(target, "vae") for target in vae_targets]
    parent = w.route(vae_links, [(w.after(ckpt) + 10, top - 22)])
    for i, target in enumerate(vae_targets):
        parent = w.route(vae_links[i:], [(w.before(target), top - 22)], parent=parent)
    if model:
        source, sampler = model
        w.route([w.input_link(sampler, "model")], [(w.after(source), top - 36), (w.before(sampler), top - 36)])


def motion_module_clip():
    w = Workflow("motion_module_clip")
    note = w.note(["Motion module clip",
                   "**Models:** an SD1.5 checkpoint; mm_sd_v15_v2.ckpt in models/animatediff_models.",
                   "KSampler denoises 16 latents as one clip, sampled as TCAN does (25 steps, CFG 7.5).",
                   "Longer clips: Sample Long Video (the TCAN workflows)."])
    ckpt = checkpoint(w)
    motion = apply_motion_module(w, ckpt)
    positive = prompt(w, ckpt, "a woman dancing in a sunny park, best quality", title="Positive")
    negative = prompt(w, ckpt, "blurry, low quality, deformed", title="Negative")
    latent = w.node("EmptyLatentImage", [512, 512, 16], outputs=[("LATENT", "LATENT")])
    sampler = ksampler(w, (motion, 0), (positive, 0), (negative, 0), latent)
    image = decode(w, sampler, ckpt)
    video = create_video(w, image, 0, fps=8.0)
    top = stages(w, note, [("Models", MODELS, [[ckpt], [motion]])], [[positive, negative, latent], [sampler]],
                 [[image, video], [save_video(w, video, "motion_module_clip", preview=360)]])
    route_checkpoint(w, top, ckpt, [positive, negative], [image], model=(motion, sampler))
    w.write()


def pose_controlnet_clip():
    w = Workflow("pose_controlnet_clip")
    note = w.note(["Pose clip with TCAN's temporal ControlNet",
                   "**Models:** an SD1.5 checkpoint, control_v11p_sd15_openpose.pth, mm_sd_v15_v2.ckpt.",
                   "The retargeted sample poses drive the stock Apply ControlNet with TCAN's temporal layers.",
                   "KSampler denoises the first 16 frames as one window."])
    ref, drv = sample_poses(w)
    retarget, render = retarget_and_render(w, ref, drv, (384, 512))
    ckpt = checkpoint(w)
    motion = apply_motion_module(w, ckpt)
    cn_loader = openpose_controlnet(w)
    temporal_cn = w.node("TCANTemporalControlNet", [MOTION_MODULE, 16],
                         inputs=[("control_net", "CONTROL_NET")], outputs=[("CONTROL_NET", "CONTROL_NET")])
    w.link(cn_loader, 0, temporal_cn, "control_net")
    positive = prompt(w, ckpt, "a man in a teal t-shirt dancing, plain background, best quality", title="Positive")
    negative = prompt(w, ckpt, "blurry, low quality, deformed", title="Negative")
    apply_cn = w.node("ControlNetApplyAdvanced", [1.0, 0.0, 1.0],
                      inputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                              ("control_net", "CONTROL_NET"), ("image", "IMAGE"), ("vae", "VAE")],
                      outputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING")])
    w.link(positive, 0, apply_cn, "positive")
    w.link(negative, 0, apply_cn, "negative")
    w.link(temporal_cn, 0, apply_cn, "control_net")
    w.link(render, 0, apply_cn, "image")
    latent = w.node("EmptyLatentImage", [384, 512, 16], outputs=[("LATENT", "LATENT")])
    sampler = ksampler(w, (motion, 0), (apply_cn, 0), (apply_cn, 1), latent)
    image = decode(w, sampler, ckpt)
    video = create_video(w, image, 0)
    top = stages(w, note, [("Models", MODELS, [[ckpt, cn_loader], [motion, temporal_cn]]),
                           ("Poses", POSES, [[ref, drv], [retarget, render]])],
                 [[positive, negative], [apply_cn, latent], [sampler]],
                 [[image, video], [save_video(w, video, "pose_controlnet_clip")]])
    route_checkpoint(w, top, ckpt, [positive, negative], [image], model=(motion, sampler))
    below = w.bottom(negative) + 40
    for offset, name in ((0, "control_net"), (14, "image")):
        w.route([w.input_link(apply_cn, name)], [(w.before(positive) + offset, below + offset),
                                                 (w.before(apply_cn) + offset, below + offset)])
    w.write()


def load_tcan(w, ckpt, cn_loader):
    load = w.node("TCANLoadTCAN", [MOTION_MODULE, True, False, True, 3.0, "auto", "sqrt_linear",
                                   "none", "none", "none", 1.0, 1.0, False],
                  extra_height=text_box(6), inputs=[("model", "MODEL"), ("control_net", "CONTROL_NET")],
                  outputs=[("MODEL", "MODEL"), ("tcan", "TCAN")])
    w.link(ckpt, 0, load, "model")
    w.link(cn_loader, 0, load, "control_net")
    return load


def tcan_sampling(w, image, render):
    """Checkpoint, ControlNet, Load TCAN, TCAN's empty prompts and Sample Long Video on `image` and the
    rendered poses -> (the Models group's columns, prompts, sampler, checkpoint)."""
    ckpt = checkpoint(w)
    cn_loader = openpose_controlnet(w)
    load = load_tcan(w, ckpt, cn_loader)
    prompts = [prompt(w, ckpt, "", title="Positive (TCAN: empty)"), prompt(w, ckpt, "", title="Negative (TCAN: empty)")]
    return [[ckpt, cn_loader], [load]], prompts, sample_long_video(w, load, ckpt, image, render, *prompts), ckpt


def sample_long_video(w, load, ckpt, image, render, positive, negative):
    inputs = [("model", "MODEL"), ("tcan", "TCAN"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
              ("vae", "VAE"), ("reference_image", "IMAGE"), ("pose_images", "IMAGE"), ("latent", "LATENT"),
              ("calibration", "TCAN_CALIBRATION")]
    sampler = w.node("TCANSampleLongVideo",
                     [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 16, 4, False, "uniform", 1.0, 1.0, False, False,
                      -1.0, True],
                     inputs=inputs, outputs=[("LATENT", "LATENT")])
    w.link(load, 0, sampler, "model")
    w.link(load, 1, sampler, "tcan")
    w.link(positive, 0, sampler, "positive")
    w.link(negative, 0, sampler, "negative")
    w.link(ckpt, 2, sampler, "vae")
    w.link(image, 0, sampler, "reference_image")
    w.link(render, 0, sampler, "pose_images")
    return sampler


def tcan_layout(w, note, inputs, prompts, sampler, ckpt, name, fps_source=None):
    """The TCAN workflows: the input groups stacked on the left in the order of Sample Long Video's inputs,
    then sampling (prompts, Sample Long Video) and output; the images run into the sampler below the
    prompts. Returns (decode, create video) nodes."""
    image = decode(w, sampler, ckpt)
    video = create_video(w, image, 0, fps_source=fps_source)
    top = stages(w, note, inputs, [prompts, [sampler]], [[image, video], [save_video(w, video, name)]])
    route_checkpoint(w, top, ckpt, prompts, [sampler, image])
    below_prompts = w.bottom(prompts[-1]) + 40
    for offset, name in ((-8, "reference_image"), (8, "pose_images")):  # a reroute serves one output
        w.route([w.input_link(sampler, name)], [(w.before(prompts[0]) + offset, below_prompts + offset),
                                                (w.before(sampler) + offset, below_prompts + offset)])
    return image, video


def tcan(name, with_tpc):
    """The full TCAN pipeline on the bundled samples (zero-shot), optionally with TPC calibration."""
    w = Workflow(name)
    note = w.note(["TCAN zero-shot" + (" with TPC" if with_tpc else ""),
                   "**Models:** an SD1.5 checkpoint, control_v11p_sd15_openpose.pth, mm_sd_v15_v2.ckpt.",
                   "The sample poses, retargeted to the sample person, animate the picture: 100 frames, windows of 16."
                   + (" Procrustes Calibrate adds TPC's references warped onto each pose." if with_tpc else ""),
                   "Your picture: Load Image in Reference. Your video: the DWPose workflow."])
    ref, drv = sample_poses(w)
    retarget, render = retarget_and_render(w, ref, drv, (0, 0), long_side=512)
    image = w.node("TCANLoadSampleImage", ["reference.png"], outputs=[("IMAGE", "IMAGE")], title="Reference image")
    models, prompts, sampler, ckpt = tcan_sampling(w, image, render)
    if with_tpc:
        calibrate = w.node("TCANProcrustesCalibrate", [True, 30], width=380, extra_height=text_box(9),
                           inputs=[("reference_image", "IMAGE"), ("reference_pose", POSE), ("driving_pose", POSE),
                                   ("reference_mask", "MASK"), ("driving_masks", "MASK")],
                           outputs=[("calibration", "TCAN_CALIBRATION"), ("calibrated_images", "IMAGE"),
                                    ("calibrated_masks", "MASK"), ("summary", "STRING")])
        w.link(image, 0, calibrate, "reference_image")
        w.link(ref, 0, calibrate, "reference_pose")
        w.link(retarget, 0, calibrate, "driving_pose")
        w.link(calibrate, 0, sampler, "calibration")
    tcan_layout(w, note, [("Models", MODELS, models), ("Reference", REFERENCE, [[image]]),
                          ("Poses", POSES, [[ref, drv], [retarget, render]])], prompts, sampler, ckpt, name)
    if with_tpc:  # beside the poses, below the sampler: its inputs come from the left, its output goes up
        x, top, width, _ = next(g["bounding"] for g in w.groups if g["title"] == "Poses")
        # two gaps to the right of the poses: the images' links to the sampler run up the first
        w.group("TPC calibration", REFERENCE, x + width + 2 * GROUP_GAP, top, [calibrate])
        for name, y, x in (("reference_image", top - GROUP_GAP / 2, w.before(calibrate) + 8),  # between the groups
                           ("reference_pose", top + GROUP_TITLE_HEIGHT / 2, w.before(calibrate))):  # along the title
            source = next(link[1] for link in w.links if link[0] == w.input_link(calibrate, name))
            w.route([w.input_link(calibrate, name)], [(w.after(source), y), (x, y), (x, w.input_y(calibrate, name))])
        up = w.before(sampler) + 16  # up the gap between the prompts and the sampler
        w.route([w.input_link(sampler, "calibration")], [(up, w.output_y(calibrate, 0)),
                                                         (up, w.input_y(sampler, "calibration"))])
    w.write()


def tcan_from_video():
    """Your own driving video and reference image: DWPose (comfyui_controlnet_aux) -> retarget -> TCAN."""
    w = Workflow("tcan_from_video")
    note = w.note(["TCAN from your own video",
                   "**Install comfyui_controlnet_aux** (DWPose Estimator): Manager, Install Missing Custom Nodes.",
                   "Pick your picture and video (ComfyUI/input); poses are drawn at the picture's aspect.",
                   "**Models:** an SD1.5 checkpoint, control_v11p_sd15_openpose.pth, mm_sd_v15_v2.ckpt."])
    image = w.node("LoadImage", ["reference.png", "image"], extra_height=250,
                   outputs=[("IMAGE", "IMAGE"), ("MASK", "MASK")], title="Reference image (yours)")
    video = w.node("LoadVideo", ["driving.mp4"], extra_height=250, outputs=[("VIDEO", "VIDEO")],
                   title="Driving video (yours)")
    components = w.node("GetVideoComponents", inputs=[("video", "VIDEO")],
                        outputs=[("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")])
    w.link(video, 0, components, "video")
    dw_widgets = ["enable", "enable", "disable", 512, "yolox_l.onnx", "dw-ll_ucoco_384_bs5.torchscript.pt", "disable"]
    poses = []
    for title, source in (("DWPose (reference)", image), ("DWPose (driving video)", components)):
        # extra_height: the placeholder the frontend draws while the pack is missing is 30 px taller
        node = w.node("DWPreprocessor", dw_widgets, inputs=[("image", "IMAGE")], outputs=[("IMAGE", "IMAGE"),
                      ("POSE_KEYPOINT", POSE)], title=title, pack=CONTROLNET_AUX, extra_height=30)
        w.link(source, 0, node, "image")
        poses.append(node)
    retarget, render = retarget_and_render(w, poses[0], poses[1], (0, 0), ref_slot=1, drv_slot=1, long_side=512)
    models, prompts, sampler, ckpt = tcan_sampling(w, image, render)
    _, create = tcan_layout(w, note, [("Models", MODELS, models), ("Reference", REFERENCE, [[image]]),
                                      ("Poses", POSES, [[video, components], poses, [retarget, render]])],
                            prompts, sampler, ckpt, "tcan_from_video", fps_source=(components, 2))
    # the video's frame rate runs below the groups to the output
    below = max(g["bounding"][1] + g["bounding"][3] for g in w.groups) + 30
    w.route([w.input_link(create, "fps")], [(w.after(components), below), (w.before(create), below),
                                            (w.before(create), w.input_y(create, "fps"))])
    w.write()


def build_all():
    pose_retarget()
    motion_module_clip()
    pose_controlnet_clip()
    tcan("tcan_zero_shot", with_tpc=False)
    tcan("tcan_tpc", with_tpc=True)
    tcan_from_video()


if __name__ == "__main__":
    build_all()
