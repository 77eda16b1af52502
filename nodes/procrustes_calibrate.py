"""Procrustes Calibrate: TPC's calibrated reference images for a driving pose sequence."""

import torch
from comfy_api.latest import io, ui

from ..tcan_core.calibrate import DEFAULT_GROUPS, calibrate
from .progress import Progress
from .sockets import PoseKeypoint, TCANCalibration

CHUNK = 32  # frames warped between progress updates / cancel checks


def _rgb(image):
    """IMAGE [B, H, W, C] -> the first image as float32 numpy [H, W, 3]."""
    if image.ndim != 4 or image.shape[0] < 1:
        raise ValueError(f"reference_image must be an IMAGE batch [B, H, W, C], got shape {tuple(image.shape)}")
    first = image[0].detach().cpu().float()
    if first.shape[-1] == 1:
        first = first.expand(-1, -1, 3)
    return first[..., :3].numpy()


def _numpy_mask(mask):
    return None if mask is None else mask.detach().cpu().float().numpy()


class ProcrustesCalibrate(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="TCANProcrustesCalibrate",
            display_name="Procrustes Calibrate (TCAN)",
            category="TCAN/calibrate",
            description="TPC: for every driving frame, the similarity transform (scale, rotation, shift) that best "
                        "aligns the reference person with the target pose, on the keypoint subset that maximises "
                        "the person-mask IoU. Outputs the calibration for Sample Long Video and the calibrated "
                        "reference images and masks for preview.",
            inputs=[
                io.Image.Input("reference_image", tooltip="The reference image (the first of a batch is used)."),
                PoseKeypoint.Input("reference_pose", tooltip="Pose of the reference image (its first frame)."),
                PoseKeypoint.Input("driving_pose",
                                   tooltip="The pose sequence the video follows, usually Pose Retarget's output. "
                                           "Its canvas is the calibrated images' size."),
                io.Boolean.Input("subset_search", default=True,
                                 tooltip="Search TPC's optimal keypoint subset (unions of face, torso, each arm and "
                                         "leg) by person-mask IoU. Off: fit all keypoints the two poses share."),
                io.Int.Input("num_groups", default=DEFAULT_GROUPS, min=1, max=100000,
                             tooltip="Iterative propagation: M groups of consecutive frames; at each sampling step "
                                     "every group uses one random member's calibrated image (TPC: 30)."),
                io.Mask.Input("reference_mask", optional=True,
                              tooltip="Person mask of the reference image (1 = person), from any segmentation "
                                      "node. Without it, a silhouette is drawn from the reference pose."),
                io.Mask.Input("driving_masks", optional=True,
                              tooltip="One person mask per driving frame (1 = person). Without them, silhouettes "
                                      "are drawn from the driving poses."),
            ],
            outputs=[
                TCANCalibration.Output(display_name="calibration"),
                io.Image.Output(display_name="calibrated_images"),
                io.Mask.Output(display_name="calibrated_masks"),
                io.String.Output(display_name="summary"),
            ],
        )

    @classmethod
    def execute(cls, reference_image, reference_pose, driving_pose, subset_search, num_groups,
                reference_mask=None, driving_masks=None) -> io.NodeOutput:
        frames = len(driving_pose) if isinstance(driving_pose, (list, tuple)) else 1
        progress = Progress(2 * max(1, frames))
        calibration = calibrate(_rgb(reference_image), reference_pose, driving_pose,
                                reference_mask=_numpy_mask(reference_mask), driving_masks=_numpy_mask(driving_masks),
                                subset_search=subset_search, num_groups=num_groups, progress=progress.step)
        count, width, height = len(calibration), calibration.width, calibration.height
        images = torch.empty((count, height, width, 3), dtype=torch.float32)
        masks = torch.empty((count, height, width), dtype=torch.float32)
        for start in range(0, count, CHUNK):
            chunk = range(start, min(count, start + CHUNK))
            images[start:chunk.stop] = torch.from_numpy(calibration.warp_images(chunk))
            masks[start:chunk.stop] = torch.from_numpy(calibration.warp_masks(chunk))
            progress.step(len(chunk))
        summary = calibration.summary()
        return io.NodeOutput(calibration, images, masks, summary, ui=ui.PreviewText(summary))
