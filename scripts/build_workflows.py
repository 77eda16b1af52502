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


def pose_retarget():
    w = Workflow("pose_retarget")
    w.node("MarkdownNote", (0, -220), size=(700, 160), widgets=[
        "## Pose Retarget (TCAN)\nRetargets the bundled driving pose sequence onto the bundled reference "
        "person's proportions and renders it as OpenPose images (the OpenPose ControlNet's input). "
        "To use your own video: run a pose detector (e.g. controlnet_aux's DWPose Estimator) on the "
        "reference image and the driving frames and connect its POSE_KEYPOINT outputs instead of the "
        "Load Pose JSON nodes. Outputs go to ComfyUI/output/tcan/."])
    ref = w.node("TCANLoadPoseJSON", (0, 0), ["(TCAN sample) reference_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Reference pose")
    drv = w.node("TCANLoadPoseJSON", (0, 180), ["(TCAN sample) driving_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Driving poses")
    retarget = w.node("TCANPoseRetarget", (380, 0), [0, "reference", 0.0, True], size=(320, 200),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", (760, 0), [0, 0, False], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    video = w.node("CreateVideo", (1120, 0), [25.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                   outputs=[("VIDEO", "VIDEO")])
    save = w.node("SaveVideo", (1460, 0), ["tcan/pose_retarget", "auto", "auto"], size=(360, 360),
                  inputs=[("video", "VIDEO")])
    preview_video = w.node("CreateVideo", (760, 240), [25.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                           outputs=[("VIDEO", "VIDEO")], title="Create Video (driving | retargeted)")
    save_preview = w.node("SaveVideo", (1120, 240), ["tcan/pose_retarget_preview", "auto", "auto"], size=(360, 360),
                          inputs=[("video", "VIDEO")])
    save_json = w.node("TCANSavePoseJSON", (760, 440), ["tcan/retargeted_pose"], inputs=[("pose", POSE)])
    notes = w.node("PreviewAny", (380, 260), [], inputs=[("source", "*")], outputs=[], title="Retarget notes")
    w.link(ref, 0, retarget, "reference_pose")
    w.link(drv, 0, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    w.link(render, 0, video, "images")
    w.link(video, 0, save, "video")
    w.link(retarget, 1, preview_video, "images")
    w.link(preview_video, 0, save_preview, "video")
    w.link(retarget, 0, save_json, "pose")
    w.link(retarget, 2, notes, "source")
    w.write()


def motion_module_clip():
    w = Workflow("motion_module_clip")
    w.node("MarkdownNote", (0, -240), size=(760, 180), widgets=[
        "## Motion module clip (TCAN)\nAn SD1.5 checkpoint with AnimateDiff motion modules inserted by the "
        "pack denoises a batch of 16 latents as one clip, with core nodes only. Put an SD1.5 checkpoint in "
        "ComfyUI/models/checkpoints and `mm_sd_v15_v2.ckpt` (or v1 `mm_sd_v15.ckpt`) in "
        "ComfyUI/models/animatediff_models. 16 frames is one window; longer clips need Sample Long Video. "
        "Sampling as TCAN: linear-beta schedule, Euler (= DDIM, eta 0) with ddim_uniform timesteps, 25 steps, "
        "CFG 7.5."])
    ckpt = w.node("CheckpointLoaderSimple", (0, 0), ["v1-5-pruned-emaonly.safetensors"], size=(320, 100),
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])
    motion = w.node("TCANApplyMotionModule", (360, 0), ["mm_sd_v15_v2.ckpt", "sqrt_linear", "auto", False],
                    size=(340, 160), inputs=[("model", "MODEL")], outputs=[("MODEL", "MODEL")])
    positive = w.node("CLIPTextEncode", (360, 200), ["a woman dancing in a sunny park, best quality"],
                      size=(340, 120), inputs=[("clip", "CLIP")], outputs=[("CONDITIONING", "CONDITIONING")])
    negative = w.node("CLIPTextEncode", (360, 360), ["blurry, low quality, deformed"], size=(340, 120),
                      inputs=[("clip", "CLIP")], outputs=[("CONDITIONING", "CONDITIONING")])
    latent = w.node("EmptyLatentImage", (360, 520), [512, 512, 16], size=(340, 110), outputs=[("LATENT", "LATENT")])
    sampler = w.node("KSampler", (740, 0), [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 1.0], size=(320, 260),
                     inputs=[("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                             ("latent_image", "LATENT")], outputs=[("LATENT", "LATENT")])
    decode = w.node("VAEDecode", (1100, 0), [], size=(220, 50), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")])
    video = w.node("CreateVideo", (1100, 100), [8.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                   outputs=[("VIDEO", "VIDEO")])
    save = w.node("SaveVideo", (1440, 0), ["tcan/motion_module_clip", "auto", "auto"], size=(360, 360),
                  inputs=[("video", "VIDEO")])
    w.link(ckpt, 0, motion, "model")
    w.link(ckpt, 1, positive, "clip")
    w.link(ckpt, 1, negative, "clip")
    w.link(motion, 0, sampler, "model")
    w.link(positive, 0, sampler, "positive")
    w.link(negative, 0, sampler, "negative")
    w.link(latent, 0, sampler, "latent_image")
    w.link(sampler, 0, decode, "samples")
    w.link(ckpt, 2, decode, "vae")
    w.link(decode, 0, video, "images")
    w.link(video, 0, save, "video")
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
    ckpt = w.node("CheckpointLoaderSimple", (0, 0), ["v1-5-pruned-emaonly.safetensors"], size=(320, 100),
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])
    motion = w.node("TCANApplyMotionModule", (360, 0), ["mm_sd_v15_v2.ckpt", "sqrt_linear", "auto", False],
                    size=(340, 160), inputs=[("model", "MODEL")], outputs=[("MODEL", "MODEL")])
    cn_loader = w.node("ControlNetLoader", (0, 160), ["control_v11p_sd15_openpose.pth"], size=(320, 60),
                       outputs=[("CONTROL_NET", "CONTROL_NET")])
    temporal_cn = w.node("TCANTemporalControlNet", (360, 200), ["mm_sd_v15_v2.ckpt", 16], size=(340, 110),
                         inputs=[("control_net", "CONTROL_NET")], outputs=[("CONTROL_NET", "CONTROL_NET")])
    ref = w.node("TCANLoadPoseJSON", (0, 280), ["(TCAN sample) reference_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Reference pose")
    drv = w.node("TCANLoadPoseJSON", (0, 440), ["(TCAN sample) driving_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Driving poses")
    retarget = w.node("TCANPoseRetarget", (360, 360), [0, "reference", 1.0, True], size=(340, 200),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", (740, 360), [384, 512, False], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    positive = w.node("CLIPTextEncode", (740, 0), ["a man in a teal t-shirt dancing, plain background, best quality"],
                      size=(340, 120), inputs=[("clip", "CLIP")], outputs=[("CONDITIONING", "CONDITIONING")])
    negative = w.node("CLIPTextEncode", (740, 160), ["blurry, low quality, deformed"], size=(340, 120),
                      inputs=[("clip", "CLIP")], outputs=[("CONDITIONING", "CONDITIONING")])
    apply_cn = w.node("ControlNetApplyAdvanced", (1120, 160), [1.0, 0.0, 1.0], size=(320, 190),
                      inputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                              ("control_net", "CONTROL_NET"), ("image", "IMAGE"), ("vae", "VAE")],
                      outputs=[("positive", "CONDITIONING"), ("negative", "CONDITIONING")])
    latent = w.node("EmptyLatentImage", (1120, 400), [384, 512, 16], size=(320, 110), outputs=[("LATENT", "LATENT")])
    sampler = w.node("KSampler", (1480, 0), [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 1.0], size=(320, 260),
                     inputs=[("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                             ("latent_image", "LATENT")], outputs=[("LATENT", "LATENT")])
    decode = w.node("VAEDecode", (1840, 0), [], size=(220, 50), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")])
    video = w.node("CreateVideo", (1840, 100), [25.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                   outputs=[("VIDEO", "VIDEO")])
    save = w.node("SaveVideo", (2180, 0), ["tcan/pose_controlnet_clip", "auto", "auto"], size=(360, 360),
                  inputs=[("video", "VIDEO")])
    w.link(ckpt, 0, motion, "model")
    w.link(cn_loader, 0, temporal_cn, "control_net")
    w.link(ref, 0, retarget, "reference_pose")
    w.link(drv, 0, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    w.link(ckpt, 1, positive, "clip")
    w.link(ckpt, 1, negative, "clip")
    w.link(positive, 0, apply_cn, "positive")
    w.link(negative, 0, apply_cn, "negative")
    w.link(temporal_cn, 0, apply_cn, "control_net")
    w.link(render, 0, apply_cn, "image")
    w.link(motion, 0, sampler, "model")
    w.link(apply_cn, 0, sampler, "positive")
    w.link(apply_cn, 1, sampler, "negative")
    w.link(latent, 0, sampler, "latent_image")
    w.link(sampler, 0, decode, "samples")
    w.link(ckpt, 2, decode, "vae")
    w.link(decode, 0, video, "images")
    w.link(video, 0, save, "video")
    w.write()


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
    ckpt = w.node("CheckpointLoaderSimple", (0, 0), ["v1-5-pruned-emaonly.safetensors"], size=(320, 100),
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])
    cn_loader = w.node("ControlNetLoader", (0, 140), ["control_v11p_sd15_openpose.pth"], size=(320, 60),
                       outputs=[("CONTROL_NET", "CONTROL_NET")])
    load = w.node("TCANLoadTCAN", (360, 0), ["mm_sd_v15_v2.ckpt", True, False, True, 3.0, "auto", "sqrt_linear",
                                             "none", "none", "none", 1.0],
                  size=(340, 330), inputs=[("model", "MODEL"), ("control_net", "CONTROL_NET")],
                  outputs=[("MODEL", "MODEL"), ("tcan", "TCAN")])
    image = w.node("TCANLoadSampleImage", (0, 260), ["reference.png"], size=(320, 80), outputs=[("IMAGE", "IMAGE")],
                   title="Reference image")
    ref = w.node("TCANLoadPoseJSON", (0, 380), ["(TCAN sample) reference_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Reference pose")
    drv = w.node("TCANLoadPoseJSON", (0, 540), ["(TCAN sample) driving_pose.json", 0, 0, 0, 0],
                 outputs=[("pose", POSE), ("frame_count", "INT")], title="Driving poses")
    retarget = w.node("TCANPoseRetarget", (360, 320), [0, "reference", 1.0, True], size=(340, 200),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", (360, 560), [384, 512, False], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    positive = w.node("CLIPTextEncode", (740, 0), [""], size=(300, 90), inputs=[("clip", "CLIP")],
                      outputs=[("CONDITIONING", "CONDITIONING")], title="Positive (TCAN: empty)")
    negative = w.node("CLIPTextEncode", (740, 130), [""], size=(300, 90), inputs=[("clip", "CLIP")],
                      outputs=[("CONDITIONING", "CONDITIONING")], title="Negative (TCAN: empty)")
    sample_inputs = [("model", "MODEL"), ("tcan", "TCAN"), ("positive", "CONDITIONING"),
                     ("negative", "CONDITIONING"), ("vae", "VAE"), ("reference_image", "IMAGE"),
                     ("pose_images", "IMAGE"), ("latent", "LATENT")]
    if with_tpc:
        sample_inputs.append(("calibration", "TCAN_CALIBRATION"))
    sampler = w.node("TCANSampleLongVideo", (1080, 0),
                     [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 16, 4, False, "uniform", 1.0, 1.0, False],
                     size=(340, 520), inputs=sample_inputs, outputs=[("LATENT", "LATENT")])
    decode = w.node("VAEDecode", (1460, 0), [], size=(220, 50), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")])
    video = w.node("CreateVideo", (1460, 100), [25.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO")],
                   outputs=[("VIDEO", "VIDEO")])
    save = w.node("SaveVideo", (1800, 0), ["tcan/" + name, "auto", "auto"], size=(360, 360), inputs=[("video", "VIDEO")])
    w.link(ckpt, 0, load, "model")
    w.link(cn_loader, 0, load, "control_net")
    w.link(ref, 0, retarget, "reference_pose")
    w.link(drv, 0, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    w.link(ckpt, 1, positive, "clip")
    w.link(ckpt, 1, negative, "clip")
    w.link(load, 0, sampler, "model")
    w.link(load, 1, sampler, "tcan")
    w.link(positive, 0, sampler, "positive")
    w.link(negative, 0, sampler, "negative")
    w.link(ckpt, 2, sampler, "vae")
    w.link(image, 0, sampler, "reference_image")
    w.link(render, 0, sampler, "pose_images")
    w.link(sampler, 0, decode, "samples")
    w.link(ckpt, 2, decode, "vae")
    w.link(decode, 0, video, "images")
    w.link(video, 0, save, "video")
    if with_tpc:
        calibrate = w.node("TCANProcrustesCalibrate", (740, 280), [True, 30], size=(300, 220),
                           inputs=[("reference_image", "IMAGE"), ("reference_pose", POSE), ("driving_pose", POSE),
                                   ("reference_mask", "MASK"), ("driving_masks", "MASK")],
                           outputs=[("calibration", "TCAN_CALIBRATION"), ("calibrated_images", "IMAGE"),
                                    ("calibrated_masks", "MASK"), ("summary", "STRING")])
        w.link(image, 0, calibrate, "reference_image")
        w.link(ref, 0, calibrate, "reference_pose")
        w.link(retarget, 0, calibrate, "driving_pose")
        w.link(calibrate, 0, sampler, "calibration")
        summary = w.node("PreviewAny", (740, 540), [], inputs=[("source", "*")], outputs=[], title="Calibration summary")
        w.link(calibrate, 3, summary, "source")
    w.write()


def tcan_from_video():
    """Your own driving video and reference image: DWPose (comfyui_controlnet_aux) -> retarget -> TCAN."""
    w = Workflow("tcan_from_video")
    w.node("MarkdownNote", (0, -300), size=(1000, 240), widgets=[
        "## TCAN from your own video\nNeeds the comfyui_controlnet_aux pack (DWPose Estimator; it downloads its "
        "detector weights on first use). Put your driving video and a picture of the person to animate in "
        "ComfyUI/input and pick them in Load Video / Load Image. The poses are detected, retargeted to the "
        "person's proportions, rendered at 512x512 (set Render Pose to your image's aspect, multiples of 8) "
        "and animated by zero-shot TCAN at the video's frame rate. Models as in tcan_zero_shot.json."])
    ckpt = w.node("CheckpointLoaderSimple", (0, 0), ["v1-5-pruned-emaonly.safetensors"], size=(320, 100),
                  outputs=[("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")])
    cn_loader = w.node("ControlNetLoader", (0, 140), ["control_v11p_sd15_openpose.pth"], size=(320, 60),
                       outputs=[("CONTROL_NET", "CONTROL_NET")])
    load = w.node("TCANLoadTCAN", (360, 0), ["mm_sd_v15_v2.ckpt", True, False, True, 3.0, "auto", "sqrt_linear",
                                             "none", "none", "none", 1.0],
                  size=(340, 330), inputs=[("model", "MODEL"), ("control_net", "CONTROL_NET")],
                  outputs=[("MODEL", "MODEL"), ("tcan", "TCAN")])
    image = w.node("LoadImage", (0, 240), ["reference.png", "image"], size=(320, 320),
                   outputs=[("IMAGE", "IMAGE"), ("MASK", "MASK")], title="Reference image (yours)")
    video = w.node("LoadVideo", (0, 600), ["driving.mp4"], size=(320, 320), outputs=[("VIDEO", "VIDEO")],
                   title="Driving video (yours)")
    components = w.node("GetVideoComponents", (360, 600), [], size=(260, 90), inputs=[("video", "VIDEO")],
                        outputs=[("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")])
    dw_widgets = ["enable", "enable", "disable", 512, "yolox_l.onnx", "dw-ll_ucoco_384_bs5.torchscript.pt", "disable"]
    ref_pose = w.node("DWPreprocessor", (360, 360), dw_widgets, size=(320, 220), inputs=[("image", "IMAGE")],
                      outputs=[("IMAGE", "IMAGE"), ("POSE_KEYPOINT", POSE)], title="DWPose (reference)")
    drv_pose = w.node("DWPreprocessor", (660, 600), dw_widgets, size=(320, 220), inputs=[("image", "IMAGE")],
                      outputs=[("IMAGE", "IMAGE"), ("POSE_KEYPOINT", POSE)], title="DWPose (driving video)")
    retarget = w.node("TCANPoseRetarget", (740, 340), [0, "reference", 1.0, True], size=(340, 200),
                      inputs=[("reference_pose", POSE), ("driving_pose", POSE)],
                      outputs=[("pose", POSE), ("preview", "IMAGE"), ("notes", "STRING")])
    render = w.node("TCANRenderPose", (1100, 340), [512, 512, False], inputs=[("pose", POSE)],
                    outputs=[("pose_images", "IMAGE")])
    positive = w.node("CLIPTextEncode", (740, 0), [""], size=(300, 90), inputs=[("clip", "CLIP")],
                      outputs=[("CONDITIONING", "CONDITIONING")], title="Positive (TCAN: empty)")
    negative = w.node("CLIPTextEncode", (740, 130), [""], size=(300, 90), inputs=[("clip", "CLIP")],
                      outputs=[("CONDITIONING", "CONDITIONING")], title="Negative (TCAN: empty)")
    sampler = w.node("TCANSampleLongVideo", (1100, 0),
                     [42, "fixed", 25, 7.5, "euler", "ddim_uniform", 16, 4, False, "uniform", 1.0, 1.0, False],
                     size=(340, 520), inputs=[("model", "MODEL"), ("tcan", "TCAN"), ("positive", "CONDITIONING"),
                                              ("negative", "CONDITIONING"), ("vae", "VAE"),
                                              ("reference_image", "IMAGE"), ("pose_images", "IMAGE"),
                                              ("latent", "LATENT"), ("calibration", "TCAN_CALIBRATION")],
                     outputs=[("LATENT", "LATENT")])
    decode = w.node("VAEDecode", (1480, 0), [], size=(220, 50), inputs=[("samples", "LATENT"), ("vae", "VAE")],
                    outputs=[("IMAGE", "IMAGE")])
    create = w.node("CreateVideo", (1480, 100), [25.0], inputs=[("images", "IMAGE"), ("audio", "AUDIO"),
                                                                ("fps", "FLOAT", "widget")],
                    outputs=[("VIDEO", "VIDEO")])
    save = w.node("SaveVideo", (1820, 0), ["tcan/tcan_from_video", "auto", "auto"], size=(360, 360),
                  inputs=[("video", "VIDEO")])
    w.link(ckpt, 0, load, "model")
    w.link(cn_loader, 0, load, "control_net")
    w.link(video, 0, components, "video")
    w.link(image, 0, ref_pose, "image")
    w.link(components, 0, drv_pose, "image")
    w.link(ref_pose, 1, retarget, "reference_pose")
    w.link(drv_pose, 1, retarget, "driving_pose")
    w.link(retarget, 0, render, "pose")
    w.link(ckpt, 1, positive, "clip")
    w.link(ckpt, 1, negative, "clip")
    w.link(load, 0, sampler, "model")
    w.link(load, 1, sampler, "tcan")
    w.link(positive, 0, sampler, "positive")
    w.link(negative, 0, sampler, "negative")
    w.link(ckpt, 2, sampler, "vae")
    w.link(image, 0, sampler, "reference_image")
    w.link(render, 0, sampler, "pose_images")
    w.link(sampler, 0, decode, "samples")
    w.link(ckpt, 2, decode, "vae")
    w.link(decode, 0, create, "images")
    w.link(components, 2, create, "fps")
    w.link(create, 0, save, "video")
    w.write()


if __name__ == "__main__":
    tcan_from_video()
    tcan("tcan_zero_shot", with_tpc=False)
    tcan("tcan_tpc", with_tpc=True)
    pose_retarget()
    motion_module_clip()
    pose_controlnet_clip()
