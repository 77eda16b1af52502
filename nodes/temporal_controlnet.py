"""Temporal ControlNet: the user's OpenPose ControlNet with TCAN's temporal layers."""

import folder_paths
from comfy_api.latest import io

from ..tcan_core.comfy.temporal_controlnet import make_temporal_controlnet
from .model_folders import load_motion_module_file


class TemporalControlNet(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANTemporalControlNet",
            display_name="Temporal ControlNet (TCAN)",
            category="TCAN/model",
            description="Adds TCAN's temporal layers to an SD1.5 OpenPose ControlNet (after input blocks 7, 8, 10, 11), "
                        "initialised from the motion module's down-block 2/3 layers as TCAN does before training. "
                        "The ControlNet runs over chunks of frames so single-frame pose errors are smoothed by "
                        "their neighbours. Use it with the stock Apply ControlNet node; the input stays unchanged.",
            inputs=[
                io.ControlNet.Input("control_net", tooltip="An SD1.5 OpenPose ControlNet from Load ControlNet Model."),
                io.Combo.Input("motion_module", options=folder_paths.get_filename_list("animatediff_models"),
                               tooltip="AnimateDiff motion module (its down_blocks 2/3 layers), or a TCAN ControlNetT file."),
                io.Int.Input("chunk_length", default=16, min=1, max=32,
                             tooltip="Frames the ControlNet sees at once (TCAN: the window length, 16)."),
            ],
            outputs=[io.ControlNet.Output()],
        )

    @classmethod
    def execute(cls, control_net, motion_module, chunk_length) -> io.NodeOutput:
        modules = load_motion_module_file(motion_module)
        return io.NodeOutput(make_temporal_controlnet(control_net, modules, chunk_length=chunk_length))
