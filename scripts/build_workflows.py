"""Writes the bundled UI-format workflows in workflows/ (run from the repo root after changing a node).

The workflows are the files users load; this script only keeps their JSON consistent (ids, link
table, slot lists) so they are not edited by hand. Output is deterministic.
"""

import json
import os
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Workflow:
    """A minimal builder for the frontend's UI workflow format (schema version 0.4)."""

    def __init__(self, name):
        self.name = name
        self.nodes, self.links = [], []

    def node(self, type_, pos, widgets=(), inputs=(), outputs=(), size=(320, 130), title=None):
        """inputs: [(name, TYPE)] sockets; outputs: [(name, TYPE)]; widgets: widgets_values."""
        node = {
            "id": len(self.nodes) + 1, "type": type_, "pos": list(pos), "size": list(size), "flags": {},
            "order": len(self.nodes), "mode": 0,
            "inputs": [{"name": i[0], "type": i[1], "link": None, **({"widget": {"name": i[0]}} if len(i) > 2 else {})}
                       for i in inputs],
            "outputs": [{"name": n, "type": t, "links": [], "slot_index": i} for i, (n, t) in enumerate(outputs)],
            "properties": {"Node name for S&R": type_},
            "widgets_values": list(widgets),
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node["id"]

    def link(self, src, src_slot, dst, dst_input):
        src_node, dst_node = self.nodes[src - 1], self.nodes[dst - 1]
        slot = [i["name"] for i in dst_node["inputs"]].index(dst_input)
        link_id = len(self.links) + 1
        type_ = src_node["outputs"][src_slot]["type"]
        self.links.append([link_id, src, src_slot, dst, slot, type_])
        src_node["outputs"][src_slot]["links"].append(link_id)
        dst_node["inputs"][slot]["link"] = link_id

    def to_json(self):
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, "tcan/" + self.name)), "revision": 0,
            "last_node_id": len(self.nodes), "last_link_id": len(self.links),
            "nodes": self.nodes, "links": self.links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4,
        }

    def write(self):
        path = os.path.join(ROOT, "workflows", self.name + ".json")
        with open(path, "w") as f:
            json.dump(self.to_json(), f, indent=1)
            f.write("\n")
        print("wrote", os.path.relpath(path, ROOT))


POSE = "POSE_KEYPOINT"
SD15 = "v1-5-pruned-emaonly.safetensors"
OPENPOSE = "control_v11p_sd15_openpose.pth"
MOTION_MODULE = "mm_sd_v15_v2.ckpt"


# Building blocks several workflows share: each adds its nodes and links and returns node ids.
def checkpoint(w, pos):
    return w.node("CheckpointLoaderSimple", pos, [SD15], size=(320, 100),
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])


def openpose_controlnet(w, pos):
    return w.node("ControlNetLoader", pos, [OPENPOSE], size=(320, 60), outputs=[("CONTROL_NET", "CONTROL_NET")])


def prompt(w, pos, clip_source, text, title=None):
    node = w.node("CLIPTextEncode", pos, [text], size=(320, 110), inputs=[("clip", "CLIP")],
                  outputs=[("CONDITIONING", "CONDITIONING")], title=title)
    w.link(clip_source, 1, node, "clip")
    return node


def sample_poses(w, pos):
    """The bundled reference and driving pose files -> (reference loader, driving loader)."""
    x, y = pos
    ref = w.node("TCANLoadPoseJSON", (x, y), ["(TCAN sample) reference_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Reference pose")
    drv = w.node("TCANLoadPoseJSON", (x, y + 160), ["(TCAN sample) driving_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Driving poses")
    return ref, drv


def retarget_and_render(w, pos, ref, drv, size, smoothing=1.0, ref_slot=0, drv_slot=0, long_side=0):
    """Pose Retarget + Render Pose at `size` (width, height), or at the canvas's aspect with `long_side`
    -> (retarget, render)."""
    x, y = pos
    retarget = w.node("TCANPoseRetarget", (x, y), [0, "reference", smoothing, True], size=(340, 200),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", (x, y + 240), [size[0], size[1], False, long_side], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    w.link(ref, ref_slot, retarget, "reference_pose")
    w.link(drv, drv_slot, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    return retarget, render


def video_out(w, pos, images_source, images_slot, name, fps=25.0, fps_source=None, title=None):
    """Create Video + Save Video (ComfyUI/output/tcan/<name>); fps from a socket when fps_source is given."""
    x, y = pos
    inputs = [("images", "IMAGE"), ("audio", "AUDIO")] + ([("fps", "FLOAT", "widget")] if fps_source else [])
    video = w.node("CreateVideo", (x, y + 100), [fps], inputs=inputs, outputs=[("VIDEO", "VIDEO")], title=title)
    save = w.node("SaveVideo", (x + 340, y), ["tcan/" + name, "auto", "auto"], size=(360, 360),
                  inputs=[("video", "VIDEO")])
    w.link(images_source, images_slot, video, "images")
    if fps_source:
        w.link(fps_source[0], fps_source[1], video, "fps")
    w.link(video, 0, save, "video")
    return video


def decode_to_video(w, pos, latent_source, vae_source, name, fps=25.0, fps_source=None):
    decode = w.node("VAEDecode", pos, [], size=(220, 50), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")])
    w.link(latent_source, 0, decode, "samples")
    w.link(vae_source, 2, decode, "vae")
    return video_out(w, pos, decode, 0, name, fps, fps_source)


def pose_retarget():
    w = Workflow("pose_retarget")
    w.node("MarkdownNote", (0, -220), size=(700, 160), widgets=[
        "## Pose Retarget (TCAN)\nRetargets the bundled driving pose sequence onto the bundled reference "
        "person's proportions and renders it as OpenPose images (the OpenPose ControlNet's input). "
        "To use your own video: run a pose detector (e.g. controlnet_aux's DWPose Estimator) on the "
        "reference image and the driving frames and connect its POSE_KEYPOINT outputs instead of the "
        "Load Pose JSON nodes. Outputs go to ComfyUI/output/tcan/."])
    ref, drv = sample_poses(w, (0, 0))
    retarget, render = retarget_and_render(w, (380, 0), ref, drv, (0, 0), smoothing=0.0)
    video_out(w, (760, 0), render, 0, "pose_retarget")
    video_out(w, (760, 300), retarget, 1, "pose_retarget_preview", title="Create Video (driving | retargeted)")
    save_json = w.node("TCANSavePoseJSON", (760, 700), ["tcan/retargeted_pose"], inputs=[("pose", POSE)])
    notes = w.node("PreviewAny", (380, 520), [], inputs=[("source", "*")], outputs=[], title="Retarget notes")
    w.link(retarget, 0, save_json, "pose")
    w.link(retarget, 2, notes, "source")
    w.write()


def apply_motion_module(w, pos, model_source):
    motion = w.node("TCANApplyMotionModule", pos, [MOTION_MODULE, "sqrt_linear", "auto", False], size=(340, 160),
                    inputs=[("model", "MODEL")], outputs=[("MODEL", "MODEL")])
    w.link(model_source, 0, motion, "model")
    return motion


def ksampler(w, pos, model, positive, negative, latent):
    sampler = w.node("KSampler", pos, [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 1.0], size=(320, 260),
                     inputs=[("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                             ("latent_image", "LATENT")], outputs=[("LATENT", "LATENT")])
    w.link(model[0], model[1], sampler, "model")
    w.link(positive[0], positive[1], sampler, "positive")
    w.link(negative[0], negative[1], sampler, "negative")
    w.link(latent, 0, sampler, "latent_image")
    return sampler


def motion_module_clip():
    w = Workflow("motion_module_clip")
    w.node("MarkdownNote", (0, -240), size=(760, 180), widgets=[
        "## Motion module clip (TCAN)\nAn SD1.5 checkpoint with AnimateDiff motion modules inserted by the "
        "pack denoises a batch of 16 latents as one clip, with core nodes only. Put an SD1.5 checkpoint in "
        "ComfyUI/models/checkpoints and `mm_sd_v15_v2.ckpt` (or v1 `mm_sd_v15.ckpt`) in "
        "ComfyUI/models/animatediff_models. 16 frames is one window; longer clips need Sample Long Video. "
        "Sampling as TCAN: linear-beta schedule, Euler (= DDIM, eta 0) with ddim_uniform timesteps, 25 steps, "
        "CFG 7.5."])
    ckpt = checkpoint(w, (0, 0))
    motion = apply_motion_module(w, (360, 0), ckpt)
    positive = prompt(w, (360, 200), ckpt, "a woman dancing in a sunny park, best quality")
    negative = prompt(w, (360, 350), ckpt, "blurry, low quality, deformed")
    latent = w.node("EmptyLatentImage", (360, 500), [512, 512, 16], size=(340, 110), outputs=[("LATENT", "LATENT")])
    sampler = ksampler(w, (740, 0), (motion, 0), (positive, 0), (negative, 0), latent)
    decode_to_video(w, (1100, 0), sampler, ckpt, "motion_module_clip", fps=8.0)
    w.write()


def pose_controlnet_clip():
    w = Workflow("pose_controlnet_clip")
    w.node("MarkdownNote", (0, -260), size=(900, 200), widgets=[
        "## Pose-driven clip with TCAN's temporal ControlNet\nThe sample driving poses are retargeted onto the "
        "sample reference person, rendered as OpenPose images, and drive an SD1.5 checkpoint with AnimateDiff "
        "motion modules through the OpenPose ControlNet with TCAN's temporal layers (Temporal ControlNet). "
        "KSampler denoises the 16 latents of Empty Latent Image as one window, so the first 16 pose frames "
        "are used. Models: an SD1.5 checkpoint (checkpoints), control_v11p_sd15_openpose.pth (controlnet), "
        "mm_sd_v15_v2.ckpt (animatediff_models)."])
    ckpt = checkpoint(w, (0, 0))
    motion = apply_motion_module(w, (360, 0), ckpt)
    cn_loader = openpose_controlnet(w, (0, 160))
    temporal_cn = w.node("TCANTemporalControlNet", (360, 200), [MOTION_MODULE, 16], size=(340, 110),
                         inputs=[("control_net", "CONTROL_NET")], outputs=[("CONTROL_NET", "CONTROL_NET")])
    w.link(cn_loader, 0, temporal_cn, "control_net")
    ref, drv = sample_poses(w, (0, 280))
    _, render = retarget_and_render(w, (360, 360), ref, drv, (384, 512))
    positive = prompt(w, (740, 0), ckpt, "a man in a teal t-shirt dancing, plain background, best quality")
    negative = prompt(w, (740, 150), ckpt, "blurry, low quality, deformed")
    apply_cn = w.node("ControlNetApplyAdvanced", (1120, 160), [1.0, 0.0, 1.0], size=(320, 190),
                      inputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                              ("control_net", "CONTROL_NET"), ("image", "IMAGE"), ("vae", "VAE")],
                      outputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING")])
    w.link(positive, 0, apply_cn, "positive")
    w.link(negative, 0, apply_cn, "negative")
    w.link(temporal_cn, 0, apply_cn, "control_net")
    w.link(render, 0, apply_cn, "image")
    latent = w.node("EmptyLatentImage", (1120, 400), [384, 512, 16], size=(320, 110), outputs=[("LATENT", "LATENT")])
    sampler = ksampler(w, (1480, 0), (motion, 0), (apply_cn, 0), (apply_cn, 1), latent)
    decode_to_video(w, (1840, 0), sampler, ckpt, "pose_controlnet_clip")
    w.write()


def load_tcan(w, pos, ckpt):
    cn_loader = openpose_controlnet(w, (pos[0] - 360, pos[1] + 140))
    load = w.node("TCANLoadTCAN", pos, [MOTION_MODULE, True, False, True, 3.0, "auto", "sqrt_linear",
                                        "none", "none", "none", 1.0, 1.0, False],
                  size=(340, 330), inputs=[("model", "MODEL"), ("control_net", "CONTROL_NET")],
                  outputs=[("MODEL", "MODEL"), ("tcan", "TCAN")])
    w.link(ckpt, 0, load, "model")
    w.link(cn_loader, 0, load, "control_net")
    return load


def sample_long_video(w, pos, load, ckpt, image, render):
    inputs = [("model", "MODEL"), ("tcan", "TCAN"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
              ("vae", "VAE"), ("reference_image", "IMAGE"), ("pose_images", "IMAGE"), ("latent", "LATENT"),
              ("calibration", "TCAN_CALIBRATION")]
    sampler = w.node("TCANSampleLongVideo", pos,
                     [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 16, 4, False, "uniform", 1.0, 1.0, False, False, -1.0,
                      True],
                     size=(340, 520), inputs=inputs, outputs=[("LATENT", "LATENT")])
    positive = prompt(w, (pos[0] - 360, pos[1]), ckpt, "", title="Positive (TCAN: empty)")
    negative = prompt(w, (pos[0] - 360, pos[1] + 130), ckpt, "", title="Negative (TCAN: empty)")
    w.link(load, 0, sampler, "model")
    w.link(load, 1, sampler, "tcan")
    w.link(positive, 0, sampler, "positive")
    w.link(negative, 0, sampler, "negative")
    w.link(ckpt, 2, sampler, "vae")
    w.link(image, 0, sampler, "reference_image")
    w.link(render, 0, sampler, "pose_images")
    return sampler


def tcan(name, with_tpc):
    """The full TCAN pipeline on the bundled samples (zero-shot), optionally with TPC calibration."""
    w = Workflow(name)
    w.node("MarkdownNote", (0, -300), size=(1000, 240), widgets=[
        ("## TCAN zero-shot" + (" + TPC" if with_tpc else "") + "\n"
         "Animates the sample reference person with the sample driving poses: the poses are retargeted to the "
         "reference's proportions and rendered; Load TCAN adds AnimateDiff motion modules (with the pose-driven "
         "temperature map), reference attention and TCAN's temporal ControlNet to an SD1.5 checkpoint; Sample Long "
         "Video denoises all 100 frames in overlapping 16-frame windows. "
         + ("Procrustes Calibrate adds TPC's calibrated references (one per group of frames). " if with_tpc else "")
         + "Models: an SD1.5 checkpoint (checkpoints), control_v11p_sd15_openpose.pth (controlnet), "
         "mm_sd_v15_v2.ckpt (animatediff_models). For your own person use Load Image, and for your own video "
         "a pose detector (see tcan_from_video.json).")])
    ckpt = checkpoint(w, (0, 0))
    load = load_tcan(w, (360, 0), ckpt)
    image = w.node("TCANLoadSampleImage", (0, 260), ["reference.png"], size=(320, 80), outputs=[("IMAGE", "IMAGE")],
                   title="Reference image")
    ref, drv = sample_poses(w, (0, 380))
    retarget, render = retarget_and_render(w, (360, 360), ref, drv, (0, 0), long_side=512)
    sampler = sample_long_video(w, (1080, 0), load, ckpt, image, render)
    decode_to_video(w, (1460, 0), sampler, ckpt, name)
    if with_tpc:
        calibrate = w.node("TCANProcrustesCalibrate", (740, 300), [True, 30], size=(300, 220),
                           inputs=[("reference_image", "IMAGE"), ("reference_pose", POSE), ("driving_pose", POSE),
                                   ("reference_mask", "MASK"), ("driving_masks", "MASK")],
                           outputs=[("calibration", "TCAN_CALIBRATION"), ("calibrated_images", "IMAGE"),
                                    ("calibrated_masks", "MASK"), ("summary", "STRING")])
        w.link(image, 0, calibrate, "reference_image")
        w.link(ref, 0, calibrate, "reference_pose")
        w.link(retarget, 0, calibrate, "driving_pose")
        w.link(calibrate, 0, sampler, "calibration")
        summary = w.node("PreviewAny", (740, 560), [], inputs=[("source", "*")], outputs=[], title="Calibration summary")
        w.link(calibrate, 3, summary, "source")
    w.write()


def tcan_from_video():
    """Your own driving video and reference image: DWPose (comfyui_controlnet_aux) -> retarget -> TCAN."""
    w = Workflow("tcan_from_video")
    w.node("MarkdownNote", (0, -300), size=(1000, 240), widgets=[
        "## TCAN from your own video\nNeeds the comfyui_controlnet_aux pack (DWPose Estimator; it downloads its "
        "detector weights on first use). Put your driving video and a picture of the person to animate in "
        "ComfyUI/input and pick them in Load Video / Load Image. The poses are detected, retargeted to the "
        "person's proportions, rendered at your picture's aspect with a long side of 512 (Render Pose) "
        "and animated by zero-shot TCAN at the video's frame rate. Models as in tcan_zero_shot.json."])
    ckpt = checkpoint(w, (0, 0))
    load = load_tcan(w, (360, 0), ckpt)
    image = w.node("LoadImage", (0, 240), ["reference.png", "image"], size=(320, 320),
                   outputs=[("IMAGE", "IMAGE"), ("MASK", "MASK")], title="Reference image (yours)")
    video = w.node("LoadVideo", (0, 600), ["driving.mp4"], size=(320, 320), outputs=[("VIDEO", "VIDEO")],
                   title="Driving video (yours)")
    components = w.node("GetVideoComponents", (360, 600), [], size=(260, 90), inputs=[("video", "VIDEO")],
                        outputs=[("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")])
    w.link(video, 0, components, "video")
    dw_widgets = ["enable", "enable", "disable", 512, "yolox_l.onnx", "dw-ll_ucoco_384_bs5.torchscript.pt", "disable"]
    poses = []
    for title, source, pos in (("DWPose (reference)", image, (360, 360)), ("DWPose (driving video)", components,
                                                                           (660, 600))):
        node = w.node("DWPreprocessor", pos, dw_widgets, size=(320, 220), inputs=[("image", "IMAGE")],
                      outputs=[("IMAGE", "IMAGE"), ("POSE_KEYPOINT", POSE)], title=title)
        w.link(source, 0, node, "image")
        poses.append(node)
    _, render = retarget_and_render(w, (740, 340), poses[0], poses[1], (0, 0), ref_slot=1, drv_slot=1,
                                    long_side=512)
    sampler = sample_long_video(w, (1100, 0), load, ckpt, image, render)
    decode_to_video(w, (1480, 0), sampler, ckpt, "tcan_from_video", fps_source=(components, 2))
    w.write()


if __name__ == "__main__":
    pose_retarget()
    motion_module_clip()
    pose_controlnet_clip()
    tcan("tcan_zero_shot", with_tpc=False)
    tcan("tcan_tpc", with_tpc=True)
    tcan_from_video()
