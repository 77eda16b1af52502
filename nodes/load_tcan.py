"""Load TCAN: SD1.5 MODEL + OpenPose CONTROL_NET + AnimateDiff motion module -> TCAN's models."""

import folder_paths
from comfy_api.latest import io, ui

from ..tcan_core.checkpoints import load_tcan_files
from ..tcan_core.comfy.load import load_tcan
from ..tcan_core.comfy.motion_modules import BETA_SCHEDULES
from ..tcan_core.temporal import GROUPNORM_MODES
from .model_folders import load_motion_module_file, model_file
from .sockets import TCAN


NONE = "none"


def _tcan_files():
    return [NONE] + folder_paths.get_filename_list("tcan")


class LoadTCAN(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANLoadTCAN",
            display_name="Load TCAN",
            category="TCAN",
            description="Zero-shot TCAN from public weights: AnimateDiff motion modules in the UNet (with the pose-driven "
                        "temperature map at sampling), the UNet itself as appearance encoder for reference attention, "
                        "and the OpenPose ControlNet with temporal layers initialised from the motion module. "
                        "The inputs are not modified. Connect both outputs to Sample Long Video.",
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5 checkpoint's MODEL (e.g. Realistic Vision 5.1, TCAN's base)."),
                io.ControlNet.Input("control_net", tooltip="The OpenPose ControlNet (control_v11p_sd15_openpose)."),
                io.Combo.Input("motion_module", options=folder_paths.get_filename_list("animatediff_models"),
                               tooltip="AnimateDiff SD1.5 motion module in ComfyUI/models/animatediff_models."),
                io.Boolean.Input("reference_attention", default=True,
                                 tooltip="Frames attend to the reference image's features (TCAN's appearance path; "
                                         "TCAN: on)."),
                io.Boolean.Input("reference_for_uncond", default=False,
                                 tooltip="Also give the negative (uncond) pass the reference; TCAN does not."),
                io.Boolean.Input("temporal_controlnet", default=True,
                                 tooltip="Temporal layers in the ControlNet (TCAN's T-CtrlN), which smooth single-frame "
                                         "pose errors (TCAN: on)."),
                io.Float.Input("ptm_tau", default=3.0, min=0.0, max=20.0, step=0.1,
                               tooltip="Pose-driven temperature map strength (TCAN: 3); 0 turns PTM off."),
                io.Combo.Input("groupnorm", options=list(GROUPNORM_MODES), default="auto",
                               tooltip="Res-block GroupNorm statistics across the frames of a window, as TCAN's 3-D "
                                       "blocks, or per frame. auto: across frames in the UNet with a TCAN UNet file "
                                       "or a v1 motion module, in the ControlNet with a TCAN ControlNetT file; per "
                                       "frame otherwise (AnimateDiff v2, the stock ControlNet)."),
                io.Combo.Input("beta_schedule", options=list(BETA_SCHEDULES), default="sqrt_linear",
                               tooltip="Noise schedule the model samples with. sqrt_linear: linear in beta, 0.00085 to "
                                       "0.012, which AnimateDiff and TCAN were trained with (TCAN's default); model "
                                       "default: the checkpoint's own (scaled-linear for SD1.5)."),
                io.Combo.Input("tcan_unet", options=_tcan_files(), default=NONE, optional=True,
                               tooltip="TCAN [UNet] file (base weights + APPA LoRA + motion modules), or the pack's "
                                       "single-file conversion of the whole set, from ComfyUI/models/tcan."),
                io.Combo.Input("tcan_appearance", options=_tcan_files(), default=NONE, optional=True,
                               tooltip="TCAN [AppearanceEncoder] file; none: the UNet itself (zero-shot, the default)."),
                io.Combo.Input("tcan_controlnet", options=_tcan_files(), default=NONE, optional=True,
                               tooltip="TCAN [ControlNetT] file; none: the control_net input with temporal layers "
                                       "from the motion module."),
                io.Float.Input("lora_strength", default=1.0, min=0.0, max=2.0, step=0.05, optional=True,
                               tooltip="Strength of the APPA LoRA of a TCAN UNet file (TCAN: 1)."),
                io.Float.Input("reference_strength", default=1.0, min=0.0, max=2.0, step=0.05, optional=True,
                               tooltip="How much the frames follow the reference's appearance (TCAN: 1; 0 ignores "
                                       "it). Values other than 1 cost a second attention in the mid/up blocks."),
                io.Boolean.Input("use_mid_block", default=False, optional=True,
                                 tooltip="Also insert an AnimateDiff v2 file's mid-block motion module (AnimateDiff v2 "
                                         "runs with it; TCAN has none, so off by default)."),
            ],
            outputs=[io.Model.Output(), TCAN.Output(display_name="tcan")],
        )

    @classmethod
    def execute(cls, model, control_net, motion_module, reference_attention, reference_for_uncond, temporal_controlnet,
                ptm_tau, groupnorm, beta_schedule, tcan_unet=NONE, tcan_appearance=NONE, tcan_controlnet=NONE,
                lora_strength=1.0, reference_strength=1.0, use_mid_block=False) -> io.NodeOutput:
        modules = load_motion_module_file(motion_module)
        files = [model_file("tcan", name) for name in (tcan_unet, tcan_appearance, tcan_controlnet) if name != NONE]
        weights = load_tcan_files(*files) if files else None
        patched, bundle = load_tcan(model, control_net, modules, weights=weights, lora_strength=lora_strength,
                                    reference_strength=reference_strength,
                                    reference_attention=reference_attention,
                                    uncond_reference=reference_for_uncond, temporal_controlnet=temporal_controlnet,
                                    ptm_tau=ptm_tau, groupnorm=groupnorm, beta_schedule=beta_schedule,
                                    use_mid_block=use_mid_block)
        reference = f"on, strength {reference_strength:g}" if reference_attention else "off"
        shown = "\n".join([f"TCAN {bundle.mode}: {len(modules)} motion modules from {motion_module}",
                           f"reference attention {reference}",
                           f"temporal ControlNet {'on' if temporal_controlnet else 'off'}",
                           f"PTM tau {ptm_tau:g}",
                           f"beta schedule {beta_schedule}"] + bundle.notes)
        return io.NodeOutput(patched, bundle, ui=ui.PreviewText(shown))
