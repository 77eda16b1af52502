"""Pose Retarget: a driving pose sequence re-proportioned to the reference person (TCAN Alg. 1)."""

import torch
from comfy_api.latest import io, ui

from ..tcan_core.pose.keypoints import frames_from_pose_keypoint
from ..tcan_core.pose.retarget import POSITIONS, retarget_frames
from .render_pose import render_to_image
from .sockets import PoseKeypoint

PREVIEW_HEIGHT = 256


def side_by_side_preview(driving, retargeted):
    """IMAGE [F, 256, Wd + Wr, 3]: the driving pose next to the retargeted one, each at its canvas aspect
    (both parsed PoseFrame lists)."""
    def width_at_preview_height(frames):
        return max(8, round(frames[0].width * PREVIEW_HEIGHT / frames[0].height))
    left = render_to_image(driving, width_at_preview_height(driving), PREVIEW_HEIGHT)
    right = render_to_image(retargeted, width_at_preview_height(retargeted), PREVIEW_HEIGHT)
    return torch.cat([left, right], dim=2)


class PoseRetarget(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANPoseRetarget",
            display_name="Pose Retarget (TCAN)",
            category="TCAN/pose",
            description="Gives a driving pose sequence the reference person's limb lengths (TCAN's per-limb "
                        "retargeting), keeping the driving motion. Output is in the reference image's canvas.",
            inputs=[
                PoseKeypoint.Input("reference_pose", tooltip="Pose of the reference image (its first frame is used)."),
                PoseKeypoint.Input("driving_pose", tooltip="Pose sequence of the driving video."),
                io.Int.Input("anchor_frame", default=0, min=0, max=100000,
                             tooltip="Driving frame whose limbs count as unforeshortened (TCAN uses the first)."),
                io.Combo.Input("position", options=list(POSITIONS), default="reference",
                               tooltip="reference: keep the reference person's place and size in the frame. "
                                       "driving: follow the driving person's place and size (the driving camera)."),
                io.Float.Input("smoothing", default=0.0, min=0.0, max=10.0, step=0.1,
                               tooltip="Temporal smoothing of the driving keypoints against detector jitter "
                                       "(Gaussian sigma in frames; 0 = off)."),
                io.Boolean.Input("symmetric_limbs", default=True,
                                 tooltip="Use the longer of each left/right limb pair of the reference (TCAN's default)."),
            ],
            outputs=[
                PoseKeypoint.Output(display_name="pose"),
                io.Image.Output(display_name="preview"),
                io.String.Output(display_name="notes"),
            ],
        )

    @classmethod
    def execute(cls, reference_pose, driving_pose, anchor_frame, position, smoothing, symmetric_limbs) -> io.NodeOutput:
        driving = frames_from_pose_keypoint(driving_pose)  # parsed once, for the retargeting and the preview
        result = retarget_frames(reference_pose, driving, anchor_frame=anchor_frame, position=position,
                                 smoothing=smoothing, symmetric=symmetric_limbs)
        notes = "\n".join(result.notes) or "ok"
        preview = side_by_side_preview(driving, frames_from_pose_keypoint(result.frames))
        first = result.frames[0]
        shown = "\n".join([f"{len(result.frames)} frame(s) retargeted onto a {first['canvas_width']}x"
                           f"{first['canvas_height']} canvas."] + result.notes)
        return io.NodeOutput(result.frames, preview, notes, ui=ui.PreviewText(shown))
