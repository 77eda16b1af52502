"""TCAN's window loop (MultiDiffusion along time) as a ComfyUI core context handler.

ComfyUI's sampler hands every model evaluation to `model_options["context_handler"]`
(comfy/context_windows.py, the machinery behind core's Context Windows node). TCANWindows is such a
handler with TCAN's windows and fusion: for each window it slices the latents, timesteps and conds,
moves them to the compute device, runs ComfyUI's normal cond batching, and averages the
predictions per frame with the fusion weights (cond and uncond separately; CFG is applied
afterwards by the sampler). It is the one writer of the window context (window_context.py): an
Evaluation per model evaluation (index, positive text, the reference set) and a Window per window
(absolute frames, the whole clip's latents, the window's temperature map). Core publishes the
same window as transformer_options["context_window"] for other packs.

Load TCAN installs one over the whole batch (the stock KSampler path: one window = all frames);
Sample Long Video installs one with its windows. Both paths run the same code per window.

Memory: a SAMPLER_SAMPLE wrapper keeps the sampler's state for all frames (noise, latents, sigmas,
denoise mask) on the UNet's offload device; only each window goes to the compute device, so
compute-device memory does not grow with the number of frames. ComfyUI's own prepare-sampling
wrapper sizes the memory estimate for one window.
"""

from .window_context import KEY, Evaluation, Window

WRAPPER_KEY = "tcan_windows"
WHOLE_BATCH = 2 ** 31  # the context length of a loop over the whole batch (no window limit)
CORE_WINDOWS = ("ComfyUI's Context Windows node is not supported on a TCAN model: TCAN's temporal ControlNet, "
                "pose temperature map and reference are tied to its own windows. Remove the Context Windows node "
                "and sample with Sample Long Video (window_length and overlap set the windows).")


def _handler_base():
    import comfy.context_windows

    return comfy.context_windows.IndexListContextHandler


def positive_texts(conds):
    """(appearance text, ControlNet text) of the positive prompt [1, L, C]: TCAN runs its appearance net
    and its ControlNet with the positive text only (the first cond, when several are combined)."""
    positive = conds[0] if conds else None
    text = positive[0].get("model_conds", {}).get("c_crossattn") if positive else None
    if text is None:
        return None, None
    control = positive[0]["model_conds"].get("crossattn_controlnet", text)
    return text.cond[:1], control.cond[:1]


class TCANWindows(_handler_base()):
    """windows: lists of absolute frame indices (None: one window over whatever batch comes); weights:
    "uniform" (TCAN) or "weighted" (tcan_core.temporal.fusion); temperatures: per window a [H, W]
    map or None; references: a window_context.References, or callable(evaluation index) ->
    References for what changes per evaluation but must stay the same for all its windows (TPC's
    propagation draw); observers: callables(handler, window index, Window, window latents) told after
    each window (progress, cancel, benchmark counters)."""

    tcan_windows = True  # marks TCAN's handler (ComfyUI imports the pack under its own module name)

    def __init__(self, windows=None, fusion="uniform", temperatures=None, references=None, compute_device=None):
        import comfy.context_windows as core

        from ..temporal.fusion import window_weights

        self.windows = None if windows is None else [list(map(int, w)) for w in windows]
        length = max(len(w) for w in self.windows) if self.windows else WHOLE_BATCH
        super().__init__(core.ContextSchedule("tcan", self._schedule),
                         core.ContextFuseMethod(f"tcan_{fusion}", lambda n, **_: window_weights(n, fusion).tolist()),
                         context_length=length)
        window_weights(1, fusion)  # rejects an unknown fusion now, not at the first step
        self.temperatures = temperatures
        self.references = references
        self.compute_device = compute_device
        self.observers = []
        self.evaluations = 0  # model evaluations so far
        self._evaluation = self._clip = None

    def __deepcopy__(self, memo):
        # ComfyUI deep-copies model_options when a MODEL is cloned; the handler's inputs are read-only
        return self

    @property
    def num_frames(self):
        return None if self.windows is None else 1 + max(max(w) for w in self.windows)

    def _schedule(self, num_frames, handler, model_options):
        return self.windows if self.windows is not None else [list(range(num_frames))]

    def should_use_context(self, model, conds, x_in, timestep, model_options):
        return True  # even one window: the patches read the window context

    def set_step(self, timestep, model_options):
        # core matches the whole timestep tensor against the schedule, which only works for video models
        # with one batch row; TCAN's frames are the batch, all at the same sigma
        super().set_step(timestep.reshape(-1)[:1], model_options)

    def execute(self, calc_cond_batch, model, conds, x_in, timestep, model_options):
        if self.windows is not None and x_in.shape[self.dim] != self.num_frames:
            raise ValueError(f"the sampler passed {x_in.shape[self.dim]} latents but the windows cover "
                             f"{self.num_frames} frames; give Sample Long Video one latent per pose frame")
        index, self.evaluations = self.evaluations, self.evaluations + 1
        references = self.references(index) if callable(self.references) else self.references
        self._evaluation = Evaluation(index, references, *positive_texts(conds))
        self._clip = x_in
        options = model_options.setdefault("transformer_options", {})
        try:
            return super().execute(calc_cond_batch, model, conds, x_in, timestep, model_options)
        finally:
            self._evaluation = self._clip = None
            options.pop(KEY, None)
            options.pop("context_window", None)

    def evaluate_context_windows(self, calc_cond_batch, model, x_in, conds, timestep, enumerated_context_windows,
                                 model_options, device=None, first_device=None):
        results = []
        for window_index, window in enumerated_context_windows:
            temperature = self.temperatures[window_index] if self.temperatures is not None else None
            context = Window(self._evaluation, list(window.index_list), self._clip, temperature)
            model_options["transformer_options"][KEY] = context
            results += super().evaluate_context_windows(calc_cond_batch, model, x_in, conds, timestep,
                                                        [(window_index, window)], model_options,
                                                        device=self.compute_device or device, first_device=first_device)
            for observer in self.observers:
                observer(self, window_index, context, results[-1].sub_conds)
        return results


class WindowStats:
    """Observer counting UNet frame-evaluations (per cond chunk) and the largest per-window input
    handed to the model (latents, temperature map, reference latents), for tests and benchmarks."""

    def __init__(self):
        self.frame_evaluations = 0
        self.peak_window_bytes = 0

    def __call__(self, handler, window_index, window, sub_conds):
        self.frame_evaluations += len(window.frames) * sum(c is not None for c in sub_conds)
        references = window.evaluation.references
        tensors = [window.temperature, references.latents if references is not None else None]
        frames = len(window.frames)
        latent = window.clip_latents[:1]
        size = frames * latent.numel() * latent.element_size() + sum(
            t.numel() * t.element_size() for t in tensors if t is not None)
        self.peak_window_bytes = max(self.peak_window_bytes, size)


def sampler_state_on(device):
    """SAMPLER_SAMPLE wrapper: the sampler runs its per-step math for all frames on `device`."""
    def move(tensor):
        return None if tensor is None else tensor.to(device)

    def wrapper(executor, guider, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
                disable_pbar=False):
        return executor(guider, move(sigmas), extra_args, callback, move(noise), move(latent_image),
                        move(denoise_mask), disable_pbar)
    return wrapper


def install(patcher, handler):
    """Make `handler` the (cloned) patcher's window loop; keep the sampler's all-frame state on the
    offload device, and size ComfyUI's memory estimate for one window."""
    import comfy.context_windows
    from comfy.patcher_extension import WrappersMP

    handler.compute_device = patcher.load_device
    patcher.model_options["context_handler"] = handler
    patcher.remove_wrappers_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY)  # a clone keeps its source's
    if patcher.offload_device != patcher.load_device:
        patcher.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, WRAPPER_KEY, sampler_state_on(patcher.offload_device))
    if not patcher.get_wrappers(WrappersMP.PREPARE_SAMPLING, "ContextWindows_prepare_sampling"):
        comfy.context_windows.create_prepare_sampling_wrapper(patcher)  # the handler's window length, read then
    return patcher


def uses_core_windows(model_options):
    """Whether model_options carry a context handler other than TCAN's (core's Context Windows node)."""
    handler = model_options.get("context_handler")
    return handler is not None and not getattr(handler, "tcan_windows", False)


def refuse_core_windows(executor, model, noise_shape, conds, model_options=None, **kwargs):
    """PREPARE_SAMPLING wrapper of a TCAN MODEL: core's Context Windows stacked on it is refused before
    sampling starts, with what to do instead."""
    if uses_core_windows(model_options or {}):
        raise ValueError(CORE_WINDOWS)
    return executor(model, noise_shape, conds, model_options=model_options, **kwargs)
