"""Apply Motion Module: AnimateDiff motion modules (with TCAN's options) patched into a MODEL."""

import folder_paths
from comfy_api.latest import io

from ..tcan_core.comfy.motion_modules import BETA_SCHEDULES, apply_motion_modules
from ..tcan_core.temporal import GROUPNORM_MODES, cross_frame_norm_for
from .model_folders import load_motion_module_file


class ApplyMotionModule(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANApplyMotionModule",
            display_name="Apply Motion Module (TCAN)",
            category="TCAN/model",
            description="Inserts AnimateDiff SD1.5 motion modules into the model (a patched copy; the input model "
                        "is unchanged), so KSampler denoises a batch of latents as one clip of frames. Windows "
                        "of at most 24/32 frames (the module's position encoding).",
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5 MODEL (Load Checkpoint); it is not modified."),
                io.Combo.Input("motion_module", options=folder_paths.get_filename_list("animatediff_models"),
                               tooltip="AnimateDiff motion module in ComfyUI/models/animatediff_models "
                                       "(mm_sd_v15_v2.ckpt or mm_sd_v15.ckpt), or a TCAN UNet checkpoint."),
                io.Combo.Input("beta_schedule", options=list(BETA_SCHEDULES), default="sqrt_linear",
                               tooltip="sqrt_linear: the linear-beta schedule AnimateDiff and TCAN were trained with."),
                io.Combo.Input("groupnorm", options=list(GROUPNORM_MODES), default="auto",
                               tooltip="Res-block GroupNorm statistics across the frames of a window (AnimateDiff v1, "
                                       "TCAN) or per frame (AnimateDiff v2). auto: across frames for a TCAN file or a v1 module, per "
                                       "frame for a v2 module."),
                io.Boolean.Input("use_mid_block", default=False,
                                 tooltip="Also insert the v2 mid-block module (TCAN uses none)."),
            ],
            outputs=[io.Model.Output()],
        )

    @classmethod
    def execute(cls, model, motion_module, beta_schedule, groupnorm, use_mid_block) -> io.NodeOutput:
        modules, tcan_trained = load_motion_module_file(motion_module, with_origin=True)
        cross_frame = cross_frame_norm_for(groupnorm, modules, tcan_trained=tcan_trained)
        patched = apply_motion_modules(model, modules, cross_frame_norm=cross_frame,
                                       beta_schedule=beta_schedule, use_mid_block=use_mid_block)
        return io.NodeOutput(patched)
