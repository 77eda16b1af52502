"""Custom ComfyUI socket types shared by the pack's nodes."""

from comfy_api.latest import io

# comfyui_controlnet_aux's pose type: a list with one {"people", "canvas_width", "canvas_height"} per frame.
PoseKeypoint = io.Custom("POSE_KEYPOINT")
