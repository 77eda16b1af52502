"""The pack's ComfyUI nodes (V3 API). Thin: validate, call tcan_core, wrap the results."""

from comfy_api.latest import ComfyExtension, io

from .model_folders import register_model_folders

register_model_folders()  # before the node schemas list their files

from .apply_motion_module import ApplyMotionModule  # noqa: E402
from .load_tcan import LoadTCAN  # noqa: E402
from .pose_json_files import LoadPoseJSON, SavePoseJSON  # noqa: E402
from .pose_retarget import PoseRetarget  # noqa: E402
from .procrustes_calibrate import ProcrustesCalibrate  # noqa: E402
from .render_pose import RenderPose  # noqa: E402
from .sample_image import LoadSampleImage  # noqa: E402
from .sample_long_video import SampleLongVideo  # noqa: E402
from .temporal_controlnet import TemporalControlNet  # noqa: E402

NODES = [LoadTCAN, SampleLongVideo, PoseRetarget, ProcrustesCalibrate, RenderPose, LoadPoseJSON, SavePoseJSON,
         ApplyMotionModule, TemporalControlNet, LoadSampleImage]


class TCANExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
