"""Custom ComfyUI socket types shared by the pack's nodes."""

from comfy_api.latest import io

# comfyui_controlnet_aux's pose type: a list with one {"people", "canvas_width", "canvas_height"} per frame.
PoseKeypoint = io.Custom("POSE_KEYPOINT")

# Load TCAN's bundle for Sample Long Video (tcan_core.comfy.bundle.TCANBundle).
TCAN = io.Custom("TCAN")

# Procrustes Calibrate's output: a tcan_core.calibrate.Calibration (per-frame transforms, IoUs,
# subsets, fallbacks, propagation groups; warps the reference on demand).
TCANCalibration = io.Custom("TCAN_CALIBRATION")
