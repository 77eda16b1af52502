"""Render Pose: POSE_KEYPOINT -> OpenPose-18 pose images (the OpenPose ControlNet's input)."""

import numpy as np
import torch
from comfy_api.latest import io

from ..tcan_core.frame_fit import long_side_size
from ..tcan_core.pose.keypoints import frames_from_pose_keypoint
from ..tcan_core.pose.render import render
from .progress import Progress
from .sockets import PoseKeypoint

CHUNK = 64  # frames rendered between progress updates / cancel checks


def render_to_image(pose_keypoint, width, height, hands=False, long_side=0):
    """POSE_KEYPOINT -> IMAGE tensor [F, H, W, 3] float 0..1, rendered in chunks with progress.
    long_side > 0: the canvas's aspect with that long side (multiples of 8), width and height ignored."""
    frames = frames_from_pose_keypoint(pose_keypoint)
    if not frames:
        raise ValueError("the pose has no frames to render; check its source (Load Pose JSON's skip_first_frames and "
                         "frame_limit, or what the pose detector found)")
    if long_side:
        width, height = long_side_size(frames[0].width, frames[0].height, int(long_side))
    width = int(width) or frames[0].width
    height = int(height) or frames[0].height
    images = torch.empty((len(frames), height, width, 3), dtype=torch.float32)
    progress = Progress(len(frames))
    buffer = np.zeros((CHUNK, height, width, 3), np.uint8)
    for start in range(0, len(frames), CHUNK):
        chunk = frames[start:start + CHUNK]
        buffer[:] = 0
        render(chunk, width, height, hands=hands, out=buffer[:len(chunk)])
        images[start:start + len(chunk)] = torch.from_numpy(buffer[:len(chunk)]).float().div_(255.0)
        progress.step(len(chunk))
    return images


class RenderPose(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANRenderPose",
            display_name="Render Pose (TCAN)",
            category="TCAN/pose",
            description="Draws every frame of a POSE_KEYPOINT sequence the way the OpenPose ControlNet "
                        "and TCAN were trained: OpenPose-18 colours on black, limbs at 0.6 brightness.",
            inputs=[
                PoseKeypoint.Input("pose", tooltip="POSE_KEYPOINT from a pose detector, Load Pose JSON or Pose Retarget."),
                io.Int.Input("width", default=0, min=0, max=8192, step=8,
                             tooltip="Output width in pixels; 0 = the pose's canvas width. A canvas of another "
                                     "aspect is fitted in, centred, with black bars (never stretched), as Sample "
                                     "Long Video places the reference image."),
                io.Int.Input("height", default=0, min=0, max=8192, step=8,
                             tooltip="Output height in pixels; 0 = the pose's canvas height."),
                io.Boolean.Input("draw_hands", default=False,
                                 tooltip="Also draw hand keypoints (TCAN's inference poses are body only)."),
                io.Int.Input("long_side", default=0, min=0, max=8192, step=8, optional=True,
                             tooltip="If not 0: the output keeps the pose canvas's aspect (the reference picture's, "
                                     "after Pose Retarget) with this long side, rounded to multiples of 8; width and "
                                     "height are ignored. TCAN works at 512."),
            ],
            outputs=[io.Image.Output(display_name="pose_images")],
        )

    @classmethod
    def execute(cls, pose, width, height, draw_hands, long_side=0) -> io.NodeOutput:
        return io.NodeOutput(render_to_image(pose, width, height, hands=draw_hands, long_side=long_side))
