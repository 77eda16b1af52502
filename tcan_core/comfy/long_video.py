"""Sample Long Video: TCAN's sampling of a pose sequence of any length with ComfyUI's samplers."""

import cv2
import numpy as np
import torch

from ..frame_fit import fit_image
from ..temporal.fusion import frame_weights
from ..temporal.temperature import temperature_map
from ..temporal.windows import padded_frame_indices, sliding_windows
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


def framed_reference(reference_image, height, width):
    """The reference IMAGE [1, height, width, 3] as the frames see it: fitted into the frame, centred,
    black bars where its aspect differs (frame_fit.py, the rule Render Pose and the calibration follow
    too)."""
    if not isinstance(reference_image, torch.Tensor) or reference_image.ndim != 4 or reference_image.shape[-1] < 3:
        raise ValueError("reference_image must be an IMAGE [1, height, width, 3] (e.g. from Load Image)")
    image = reference_image[0, :, :, :3].float().cpu().numpy()
    return torch.from_numpy(fit_image(image, width, height))[None]


def reference_latent(model, vae, reference_image, height, width):
    """Clean reference latent in model space, at the frames' size."""
    return model.model.process_latent_in(vae.encode(framed_reference(reference_image, height, width)))


def calibrated_latents(model, vae, calibration, frames, height, width, batch=8):
    """Model-space latents [frames, 4, h, w] of every frame's calibrated reference (TPC), kept on the
    CPU; encoded once, like the reference. The images carry the reference person only (black
    elsewhere): TPC screens the background out of calibrated images, so the background comes from the
    reference alone."""
    if len(calibration) != frames:
        raise ValueError(f"the calibration covers {len(calibration)} frames but there are {frames} pose images; "
                         "calibrate the same (retargeted) pose sequence that was rendered")
    latents = []
    for start in range(0, frames, batch):
        images = calibration.person_images(range(start, min(start + batch, frames)), width, height)
        images = torch.from_numpy(images[..., :3]).float()
        latents.append(model.model.process_latent_in(vae.encode(images)).cpu())
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
    """TPC's iterative propagation per model evaluation: each group of frames uses one randomly drawn
    member's calibrated image (seeded by the run's seed and the evaluation index, so the same for
    all windows of a step and reproducible); every frame attends to [reference, its group's image].
    The person masks (PersonMasks) go along: calibrated tokens outside the person are never attended
    to, and with driving masks the public code's attention masks apply (masked_reference.py).
    frame_source maps the sampled frames (padding included) to the calibrated ones."""

    def __init__(self, reference, calibrated, groups, seed, masks, frame_source=None):
        self.reference = reference
        self.calibrated = calibrated
        self.groups = groups
        self.seed = int(seed)
        self.masks = masks
        source = torch.as_tensor(range(len(calibrated)) if frame_source is None else frame_source, dtype=torch.long)
        group_of = torch.as_tensor(groups.group_of(), dtype=torch.long)[source]
        self.slots = torch.stack([torch.zeros_like(group_of), 1 + group_of], dim=1)  # [frames, 2]
        self.driving = None if masks.driving is None else masks.driving[source]

    def __call__(self, evaluation):
        members, _ = self.groups.draw(np.random.default_rng([self.seed, evaluation]))
        members = torch.as_tensor(np.asarray(members), dtype=torch.long)
        latents = torch.cat([self.reference, self.calibrated[members].to(self.reference)])
        state = {"reference_latent": latents, "reference_slots": self.slots,
                 "reference_masks": torch.cat([self.masks.reference, self.masks.calibrated[members]]),
                 "reference_calibrated": torch.arange(len(latents)) > 0}
        if self.driving is not None:
            state["query_masks"] = self.driving
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


def with_control(positive, negative, controlnet, pose_images, strength):
    """Attach the (temporal) ControlNet with the pose hints to every cond of both prompts, chaining
    existing ones. Positive and negative share one copy (as ComfyUI's Apply ControlNet does), so
    ComfyUI can run cond and uncond in one batch."""
    copies = {}

    def attach(conditioning):
        out = []
        for tensor, options in conditioning:
            previous = options.get("control")
            if previous not in copies:
                control = controlnet.copy().set_cond_hint(pose_images[..., :3].movedim(-1, 1), strength)
                control.set_previous_controlnet(previous)
                copies[previous] = control
            out.append([tensor, {**options, "control": copies[previous], "control_apply_to_uncond": False}])
        return out

    return attach(positive), attach(negative)


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
                      tpc_attention_masks=False, ptm_tau=None, pad_to_window=True, progress=None, callback=None,
                      sampler=None, sigmas=None):
    """-> (LATENT {"samples": [frames, 4, h, w]}, the window loop).

    calibration: TPC's Calibration for the same pose sequence (optional); tpc_attention_masks: the
    public TPC code's attention masks (calibrated tokens for the person, reference tokens for the
    background); ptm_tau: the pose-driven temperature map's tau (None or < 0: Load TCAN's, in the
    bundle; 0: off); pad_to_window: as TCAN, extend the clip to a multiple of the window length by
    repeating its last frame (so every window and ControlNet chunk sees whole windows), and trim the
    result back; progress: optional object with step() (per window); callback: the sampler's
    per-step callback(step, x0, x, total_steps) (previews); sampler, sigmas: a ComfyUI SAMPLER and
    its SIGMAS (as SamplerCustom takes them) instead of sampler_name, scheduler, steps and denoise."""
    import comfy.sample

    frames, height, width = check_pose_images(pose_images)
    if latent is None:
        latent_image = torch.zeros(frames, 4, height // 8, width // 8)
    else:
        latent_image = latent["samples"]
        if latent_image.shape[0] != frames or tuple(latent_image.shape[2:]) != (height // 8, width // 8):
            raise ValueError(f"the latent has {latent_image.shape[0]} frames of {latent_image.shape[3] * 8}x"
                             f"{latent_image.shape[2] * 8}; the poses have {frames} of {width}x{height}")
    if calibration is not None and not bundle.reference_attention:
        raise ValueError("TPC calibration feeds reference attention; turn reference_attention on in Load TCAN")
    if tpc_attention_masks and calibration is None:
        raise ValueError("tpc_attention_masks needs a calibration (connect Procrustes Calibrate)")
    source = padded_frame_indices(frames, window_length) if pad_to_window else list(range(frames))
    pose_images, latent_image = pose_images[source], latent_image[source]
    windows = sliding_windows(len(source), window_length, overlap, closed_loop)
    weights = frame_weights(windows, len(source), fusion)
    state = {}
    if bundle.reference_attention:
        state["reference_latent"] = reference_latent(model, vae, reference_image, height, width)
    if calibration is not None:
        calibrated = calibrated_latents(model, vae, calibration, frames, height, width)
        masks = PersonMasks(calibration, frames, height, width, driving=tpc_attention_masks)
        state = PropagatedReferences(state["reference_latent"], calibrated, calibration.groups, seed, masks,
                                     frame_source=source)
    tau = bundle.ptm_tau if ptm_tau is None or ptm_tau < 0 else ptm_tau
    windowed = WindowedSampling(windows, weights, window_temperatures(pose_images, windows, tau), state,
                                on_window=progress.step if progress is not None else None)
    patched = add_window_loop(model.clone(), windowed)
    if calibration is not None:
        apply_masked_reference_attention(patched, bundle.reference_strength, bundle.uncond_reference)
    positive, negative = with_control(positive, negative, bundle.controlnet, pose_images, controlnet_strength)
    noise = initial_noise(latent_image, seed, window_length, repeat_window_noise)
    if sampler is not None:
        samples = comfy.sample.sample_custom(patched, noise, cfg, sampler, sigmas, positive, negative, latent_image,
                                             callback=callback, disable_pbar=True, seed=seed)
    else:
        samples = comfy.sample.sample(patched, noise, steps, cfg, sampler_name, scheduler, positive, negative,
                                      latent_image, denoise=denoise, callback=callback, disable_pbar=True, seed=seed)
    return {"samples": samples[:frames]}, windowed
