"""TCAN's long-video sampling inside ComfyUI: a keyed CALC_COND_BATCH wrapper owns the window loop.

At every model evaluation of the sampler (one per step for first-order samplers) the wrapper runs
the cond/uncond batch window by window: each window's latents, timesteps and per-window state
(absolute frame indices, the full latent for the temporal ControlNet's chunks, the window's PTM
map, the reference latents) go through ComfyUI's normal cond batching, and the predictions are
averaged per frame with the fusion weights — cond and uncond separately; CFG is applied afterwards
by the sampler. Every per-frame input is indexed by absolute frame index.

Memory: a SAMPLER_SAMPLE wrapper keeps the sampler's state for all frames (noise, latents, sigmas,
denoise mask) on the UNet's offload device (the CPU, unless ComfyUI keeps everything on the GPU);
the window loop moves each window's latents and timesteps to the compute device and the
predictions back, so compute-device memory does not grow with the number of frames.
"""

import torch

from .transformer_options import KEY

WRAPPER_KEY = "tcan_windows"


class WindowedSampling:
    def __init__(self, windows, weights, temperatures, state, on_window=None):
        """windows: lists of frame indices; weights: per window, per frame (frames' weights sum to 1);
        temperatures: per window a [H, W] tensor or None; state: extra transformer_options["tcan"]
        entries (e.g. reference_latent), or a callable(evaluation index) -> entries, for what changes
        per model evaluation but must stay the same for all windows of it (TPC's propagation draw);
        on_window: called after each window (progress, cancel)."""
        self.windows = [list(map(int, w)) for w in windows]
        self.weights = [torch.as_tensor(w, dtype=torch.float32) for w in weights]
        self.temperatures = temperatures
        self.state = state
        self.on_window = on_window
        self.num_frames = 1 + max(max(w) for w in self.windows)
        self.evaluations = 0  # UNet frame-evaluations (per cond chunk), for benchmarks
        self.calls = 0  # model evaluations of the sampler so far
        self.peak_window_bytes = 0  # largest per-window input handed to the model (benchmarks)
        self.compute_device = None  # the UNet's load device (add_window_loop); None = x_in's device

    def __call__(self, executor, model, conds, x_in, timestep, model_options):
        if x_in.shape[0] != self.num_frames:
            raise ValueError(f"the sampler passed {x_in.shape[0]} latents but the windows cover {self.num_frames} "
                             "frames; give Sample Long Video one latent per pose frame")
        import comfy.model_management

        evaluation, self.calls = self.calls, self.calls + 1
        state = self.state(evaluation) if callable(self.state) else self.state
        state = {**state, **positive_texts(conds)}
        outputs = None
        for index, window in enumerate(self.windows):
            comfy.model_management.throw_exception_if_processing_interrupted()
            frames = torch.tensor(window, device=x_in.device)
            device = self.compute_device or x_in.device
            options = dict(model_options)
            transformer_options = dict(model_options.get("transformer_options", {}))
            transformer_options[KEY] = {**state, "evaluation": evaluation, "frames": window, "latents": x_in,
                                        "num_frames": self.num_frames, "temperature": self.temperatures[index]}
            options["transformer_options"] = transformer_options
            window_x = x_in[frames].to(device)
            self.peak_window_bytes = max(self.peak_window_bytes, _bytes(window_x, self.temperatures[index],
                                                                        *[v for v in state.values()
                                                                          if isinstance(v, torch.Tensor)]))
            results = executor(model, conds, window_x, timestep[frames].to(device), options)
            weight = self.weights[index].to(device=x_in.device, dtype=x_in.dtype).view(-1, *[1] * (x_in.ndim - 1))
            if outputs is None:
                outputs = [torch.zeros_like(x_in) for _ in results]
            for total, result in zip(outputs, results):
                total.index_add_(0, frames, result.to(total.device) * weight)
            self.evaluations += len(window) * sum(c is not None for c in conds)
            if self.on_window is not None:
                self.on_window()
        return outputs


def positive_texts(conds):
    """The positive prompt's text for the appearance pass and the temporal ControlNet, which TCAN runs
    with the positive text only (its first cond, when several are combined)."""
    positive = conds[0] if conds else None
    if not positive:
        return {}
    model_conds = positive[0].get("model_conds", {})
    text = model_conds.get("c_crossattn")
    if text is None:
        return {}
    control = model_conds.get("crossattn_controlnet", text)
    return {"reference_context": text.cond[:1], "control_context": control.cond[:1]}


def _bytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


def sampler_state_on(device):
    """SAMPLER_SAMPLE wrapper: the sampler runs its per-step math for all frames on `device`."""
    def move(tensor):
        return None if tensor is None else tensor.to(device)

    def wrapper(executor, guider, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
                disable_pbar=False):
        return executor(guider, move(sigmas), extra_args, callback, move(noise), move(latent_image),
                        move(denoise_mask), disable_pbar)
    return wrapper


def add_window_loop(patcher, windowed):
    """Register the window loop; keep the sampler's all-frame state on the offload device; size
    ComfyUI's memory estimate for one window, not the whole clip (otherwise a long clip makes
    ComfyUI load the UNet partially, as if all frames ran at once)."""
    from comfy.patcher_extension import WrappersMP

    windowed.compute_device = patcher.load_device
    if patcher.offload_device != patcher.load_device:
        patcher.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, sampler_state_on(patcher.offload_device))
    window_frames = max(len(w) for w in windowed.windows)

    def estimate_for_one_window(executor, model, noise_shape, *args, **kwargs):
        noise_shape = [min(noise_shape[0], window_frames)] + list(noise_shape[1:])
        return executor(model, noise_shape, *args, **kwargs)

    patcher.add_wrapper_with_key(WrappersMP.PREPARE_SAMPLING, WRAPPER_KEY, estimate_for_one_window)
    patcher.add_wrapper_with_key(WrappersMP.CALC_COND_BATCH, WRAPPER_KEY, windowed)
    return patcher
