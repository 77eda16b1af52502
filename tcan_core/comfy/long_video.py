"""Sample Long Video: TCAN's sampling of a pose sequence of any length with ComfyUI's samplers."""

import numpy as np
import torch

from ..temporal.fusion import frame_weights
from ..temporal.temperature import temperature_map
from ..temporal.windows import sliding_windows
from .masked_reference import apply_masked_reference_attention
from .sampling import WindowedSampling, add_window_loop


def check_pose_images(pose_images):
    if not isinstance(pose_images, torch.Tensor) or pose_images.ndim != 4 or pose_images.shape[-1] < 3:
        raise ValueError("pose_images must be an IMAGE batch [frames, height, width, 3] (from Render Pose)")
    frames, height, width = pose_images.shape[:3]
    if height % 8 or width % 8:
        raise ValueError(f"pose images are {width}x{height}; width and height must be multiples of 8 (set them in "
                         "Render Pose)")
    return frames, height, width


def cover(images, width, height, method="bicubic"):
    """[B, C, H, W] -> [B, C, height, width]: scaled to cover the frame and centre-cropped, so an image
    of another aspect ratio is never distorted."""
    import comfy.utils

    if images.shape[-2:] == (height, width):
        return images
    return comfy.utils.common_upscale(images, width, height, method, "center")


def reference_latent(model, vae, reference_image, height, width):
    """Clean reference latent in model space, at the frames' size (the reference covers the frame)."""
    if not isinstance(reference_image, torch.Tensor) or reference_image.ndim != 4:
        raise ValueError("reference_image must be an IMAGE")
    image = cover(reference_image[:1, :, :, :3].movedim(-1, 1), width, height).movedim(1, -1)
    return model.model.process_latent_in(vae.encode(image))


def calibrated_latents(model, vae, calibration, frames, height, width, batch=8):
    """Model-space latents [frames, 4, h, w] of every frame's calibrated reference (TPC), kept on the
    CPU; encoded once, like the reference (the calibration warps the images on demand)."""
    if len(calibration) != frames:
        raise ValueError(f"the calibration covers {len(calibration)} frames but there are {frames} pose images; "
                         "calibrate the same (retargeted) pose sequence that was rendered")
    latents = []
    for start in range(0, frames, batch):
        images = calibration.warp_images(range(start, min(start + batch, frames)), width, height)
        images = torch.from_numpy(images[..., :3]).float()
        latents.append(model.model.process_latent_in(vae.encode(images)).cpu())
    return torch.cat(latents)


def latent_masks(masks, downscale=8):
    """[n, H, W] masks in 0..1 -> [n, H/8, W/8] area fractions (what the latent's tokens cover)."""
    return torch.nn.functional.avg_pool2d(torch.as_tensor(masks, dtype=torch.float32)[:, None], downscale)[:, 0]


class PersonMasks:
    """The public TPC code's attention masks at latent resolution, for every frame of the clip:
    the reference person (the reference image's mask covering the frame, like the image), each
    frame's calibrated (warped) reference person, and each frame's driving person."""

    def __init__(self, calibration, frames, height, width):
        reference = torch.from_numpy(calibration.reference_mask)[None, None]
        self.reference = latent_masks(cover(reference, width, height, "bilinear")[:, 0].clamp(0, 1))
        self.calibrated = self._per_frame(frames, lambda indices: calibration.warp_masks(indices, width, height))
        self.driving = self._per_frame(frames, lambda indices: np.stack([calibration.driving_mask(i, width, height)
                                                                         for i in indices]))

    @staticmethod
    def _per_frame(frames, masks_of, chunk=32):
        """Latent-resolution masks of every frame; full-size masks exist only 32 frames at a time."""
        return torch.cat([latent_masks(masks_of(range(start, min(start + chunk, frames))))
                          for start in range(0, frames, chunk)])


class PropagatedReferences:
    """TPC's iterative propagation per model evaluation: each group of frames uses one randomly drawn
    member's calibrated image (seeded by the run's seed and the evaluation index, so the same for
    all windows of a step and reproducible); every frame attends to [reference, its group's image].
    With masks (PersonMasks), the public code's attention masks go along (masked_reference.py)."""

    def __init__(self, reference, calibrated, groups, seed, masks=None):
        self.reference = reference
        self.calibrated = calibrated
        self.groups = groups
        self.seed = int(seed)
        self.masks = masks
        group_of = torch.as_tensor(groups.group_of(), dtype=torch.long)
        self.slots = torch.stack([torch.zeros_like(group_of), 1 + group_of], dim=1)  # [frames, 2]

    def __call__(self, evaluation):
        members, _ = self.groups.draw(np.random.default_rng([self.seed, evaluation]))
        members = torch.as_tensor(np.asarray(members), dtype=torch.long)
        latents = torch.cat([self.reference, self.calibrated[members].to(self.reference)])
        state = {"reference_latent": latents, "reference_slots": self.slots}
        if self.masks is not None:
            state["reference_masks"] = torch.cat([self.masks.reference, self.masks.calibrated[members]])
            state["reference_calibrated"] = torch.arange(len(latents)) > 0
            state["query_masks"] = self.masks.driving
        return state


def window_temperatures(pose_images, windows, tau):
    """Each window's PTM from its own pose frames (None everywhere when tau is 0). Frames are
    converted per window, so host memory holds no extra copy of the whole pose batch."""
    if tau <= 0:
        return [None] * len(windows)
    cache = {}
    out = []
    for window in windows:
        key = tuple(sorted(window))  # windows with the same frames share a map
        if key not in cache:
            frames = pose_images[list(window), :, :, :3]
            poses = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
            cache[key] = torch.from_numpy(temperature_map(poses, tau))
        out.append(cache[key])
    return out


def with_control(conditioning, controlnet, pose_images, strength):
    """Attach the (temporal) ControlNet with the pose hints to every cond, chaining existing ones."""
    copies = {}
    out = []
    for tensor, options in conditioning:
        previous = options.get("control")
        if previous not in copies:
            control = controlnet.copy().set_cond_hint(pose_images[..., :3].movedim(-1, 1), strength)
            control.set_previous_controlnet(previous)
            copies[previous] = control
        out.append([tensor, {**options, "control": copies[previous], "control_apply_to_uncond": False}])
    return out


def initial_noise(latent, seed, window_length, repeat_window_noise):
    """Per-frame noise from one seed; frame i's noise does not depend on the clip length. With
    repeat_window_noise (TCAN) one window's noise block is repeated along the clip."""
    import comfy.sample

    frames = latent.shape[0]
    if repeat_window_noise:
        block = comfy.sample.prepare_noise(latent[:min(window_length, frames)], seed,
                                           noise_inds=list(range(min(window_length, frames))))
        return block[[i % block.shape[0] for i in range(frames)]]
    return comfy.sample.prepare_noise(latent, seed, noise_inds=list(range(frames)))


def sample_long_video(model, bundle, positive, negative, vae, reference_image, pose_images, *, seed, steps, cfg,
                      sampler_name, scheduler, window_length=16, overlap=4, closed_loop=False, fusion="uniform",
                      controlnet_strength=1.0, denoise=1.0, latent=None, repeat_window_noise=False, calibration=None,
                      tpc_attention_masks=False, ptm_tau=None, progress=None, callback=None):
    """-> (LATENT {"samples": [frames, 4, h, w]}, the window loop).

    calibration: TPC's Calibration for the same pose sequence (optional); tpc_attention_masks: the
    public TPC code's attention masks (calibrated tokens for the person, reference tokens for the
    background); ptm_tau: the pose-driven temperature map's tau (None or < 0: Load TCAN's, in the
    bundle; 0: off); progress: optional object with step() (per window); callback: the sampler's
    per-step callback(step, x0, x, total_steps) (previews)."""
    import comfy.sample

    frames, height, width = check_pose_images(pose_images)
    if latent is None:
        latent_image = torch.zeros(frames, 4, height // 8, width // 8)
    else:
        latent_image = latent["samples"]
        if latent_image.shape[0] != frames or tuple(latent_image.shape[2:]) != (height // 8, width // 8):
            raise ValueError(f"the latent has {latent_image.shape[0]} frames of {latent_image.shape[3] * 8}x"
                             f"{latent_image.shape[2] * 8}; the poses have {frames} of {width}x{height}")
    windows = sliding_windows(frames, window_length, overlap, closed_loop)
    weights = frame_weights(windows, frames, fusion)
    state = {}
    if calibration is not None and not bundle.reference_attention:
        raise ValueError("TPC calibration feeds reference attention; turn reference_attention on in Load TCAN")
    if bundle.reference_attention:
        state["reference_latent"] = reference_latent(model, vae, reference_image, height, width)
    if tpc_attention_masks and calibration is None:
        raise ValueError("tpc_attention_masks needs a calibration (connect Procrustes Calibrate)")
    if calibration is not None:
        calibrated = calibrated_latents(model, vae, calibration, frames, height, width)
        masks = PersonMasks(calibration, frames, height, width) if tpc_attention_masks else None
        state = PropagatedReferences(state["reference_latent"], calibrated, calibration.groups, seed, masks)
    tau = bundle.ptm_tau if ptm_tau is None or ptm_tau < 0 else ptm_tau
    windowed = WindowedSampling(windows, weights, window_temperatures(pose_images, windows, tau), state,
                                on_window=progress.step if progress is not None else None)
    patched = add_window_loop(model.clone(), windowed)
    if tpc_attention_masks:
        apply_masked_reference_attention(patched, bundle.reference_strength, bundle.uncond_reference)
    positive = with_control(positive, bundle.controlnet, pose_images, controlnet_strength)
    negative = with_control(negative, bundle.controlnet, pose_images, controlnet_strength)
    noise = initial_noise(latent_image, seed, window_length, repeat_window_noise)
    samples = comfy.sample.sample(patched, noise, steps, cfg, sampler_name, scheduler, positive, negative, latent_image,
                                  denoise=denoise, callback=callback, disable_pbar=True, seed=seed)
    return {"samples": samples}, windowed
