"""The pack's ComfyUI nodes (V3 API). Thin: validate, call tcan_core, wrap the results."""

from comfy_api.latest import ComfyExtension, io

from .pose_json_files import LoadPoseJSON, SavePoseJSON
from .pose_retarget import PoseRetarget
from .render_pose import RenderPose

NODES = [LoadPoseJSON, SavePoseJSON, PoseRetarget, RenderPose]


class TCANExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return list(NODES)
