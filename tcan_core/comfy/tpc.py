"""TPC at sampling time: the calibrated references, their person masks and the propagation draw.

Procrustes Calibrate (tcan_core.calibrate) gives per-frame transforms; here they become what the
model attends to: every frame's calibrated reference encoded once (the person only, as TPC screens
the background out), the person masks at latent resolution, and per model evaluation a
window_context.References with the reference and one drawn member of each propagation group
(calibrate/propagation.py), the same for all windows of the evaluation.
"""

import cv2
import numpy as np
import torch

from ..frame_fit import fit_image
from .window_context import References

ENCODE_BATCH = 8  # calibrated images per VAE encode


def calibrated_latents(model, vae, calibration, frames, height, width, batch=ENCODE_BATCH, on_batch=None):
    """Model-space latents [frames, 4, h, w] of every frame's calibrated reference, kept on the CPU;
    encoded once, like the reference. The images carry the reference person only (black elsewhere):
    the background comes from the reference alone. on_batch: told after each encoded batch."""
    if len(calibration) != frames:
        raise ValueError(f"the calibration covers {len(calibration)} frames but there are {frames} pose images; "
                         "connect Procrustes Calibrate's calibration for the same (retargeted) pose sequence that "
                         "Render Pose drew")
    latents = []
    for start in range(0, frames, batch):
        images = calibration.person_images(range(start, min(start + batch, frames)), width, height)
        images = torch.from_numpy(images[..., :3]).float()
        latents.append(model.model.process_latent_in(vae.encode(images)).cpu())
        if on_batch is not None:
            on_batch()
    return torch.cat(latents)


def latent_masks(masks, downscale=8):
    """[n, H, W] masks in 0..1 -> [n, H/8, W/8] area fractions (what the latent's tokens cover)."""
    return torch.nn.functional.avg_pool2d(torch.as_tensor(masks, dtype=torch.float32)[:, None], downscale)[:, 0]


class PersonMasks:
    """Person masks at latent resolution for the reference attention's key masks: the reference person
    (the reference image's mask framed like the image), each frame's calibrated (warped) reference
    person, and, for the public TPC code's masks (driving=True), each frame's driving person."""

    def __init__(self, calibration, frames, height, width, driving=False):
        reference = fit_image(calibration.reference_mask, width, height, cv2.INTER_LINEAR)
        self.reference = latent_masks(np.clip(reference, 0, 1)[None])
        self.calibrated = self._per_frame(frames, lambda indices: calibration.warp_masks(indices, width, height))
        self.driving = None
        if driving:
            self.driving = self._per_frame(frames, lambda indices: np.stack([calibration.driving_mask(i, width, height)
                                                                             for i in indices]))

    @staticmethod
    def _per_frame(frames, masks_of, chunk=32):
        """Latent-resolution masks of every frame; full-size masks exist only 32 frames at a time."""
        return torch.cat([latent_masks(masks_of(range(start, min(start + chunk, frames))))
                          for start in range(0, frames, chunk)])


class PropagatedReferences:
    """callable(evaluation index) -> References: [reference, each group's drawn calibrated image] with
    their person masks; every frame attends to the reference and its group's image.
    frame_source maps the sampled frames (TCAN's padding included) to the calibrated ones."""

    def __init__(self, reference, calibrated, groups, seed, masks, frame_source=None):
        self.reference = reference
        self.calibrated = calibrated
        self.groups = groups
        self.seed = int(seed)
        self.masks = masks
        source = np.arange(len(calibrated)) if frame_source is None else np.asarray(frame_source)
        self.slots = torch.from_numpy(groups.slots(source)).long()  # [frames, 2]
        self.driving = None if masks.driving is None else masks.driving[torch.from_numpy(source).long()]

    def __call__(self, evaluation):
        members = torch.from_numpy(np.asarray(self.groups.evaluation_members(self.seed, evaluation))).long()
        latents = torch.cat([self.reference, self.calibrated[members].to(self.reference)])
        return References(latents=latents, slots=self.slots,
                          masks=torch.cat([self.masks.reference, self.masks.calibrated[members]]),
                          calibrated=torch.arange(len(latents)) > 0, query_masks=self.driving)


def tpc_references(model, vae, calibration, reference, frames, height, width, seed, frame_source,
                   tpc_attention_masks=False, on_step=None):
    """The propagated references of a calibration for Sample Long Video; on_step is told after every
    encoded batch and after the masks."""
    calibrated = calibrated_latents(model, vae, calibration, frames, height, width, ENCODE_BATCH, on_step)
    masks = PersonMasks(calibration, frames, height, width, driving=tpc_attention_masks)
    if on_step is not None:
        on_step()
    return PropagatedReferences(reference, calibrated, calibration.groups, seed, masks, frame_source=frame_source)
