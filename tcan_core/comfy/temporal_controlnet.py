"""TCAN's Temporal ControlNet: the user's frozen OpenPose ControlNet with motion modules in its two
deepest down levels (SD1.5 input_blocks 7, 8, 10, 11; 1280 channels), no PTM.

Built from the CONTROL_NET the stock ControlNetLoader returns, without touching it: a subclass of
comfy's ControlNet that shares the ControlNet weights but has its own ModelPatcher (a clone), which
carries the temporal weights as an additional model and inserts them by injection while loaded.

Under TCAN's window loop (a Window in the window context: the whole clip's latents, the window's
frames), the ControlNet runs once per model evaluation over non-overlapping chunks of
`chunk_length` frames of the whole clip, with the positive prompt's text, and its residuals are
cached per frame (tcan_core.temporal.chunk_cache): every UNet window takes the residuals of its own
frame indices, and cond and uncond rows get the same residuals, as TCAN runs it (a negative prompt
does not change the pose guidance). Under another sampler (a plain model, or core's Context Windows
on a motion-module MODEL) the batch is the sequence, its hint frames are core's window's (or the
batch's), and each cond/uncond chunk is run with its own text, as ComfyUI's ControlNets do.

With cross_frame_norm (TCAN's ControlNet3DModel, i.e. a ControlNetT file), the res blocks' GroupNorm
statistics span the frames of each chunk (cross_frame_norm.py).
"""

import torch

from ..temporal.chunk_cache import ChunkCache
from .cross_frame_norm import add_cross_frame_views
from .motion_modules import insert_motion_modules
from .window_context import FrameCount, positive_context, window_of

CONTROLNET_LEVELS = ("down_blocks.2.", "down_blocks.3.")  # TCAN: temporal layers only here


def controlnet_modules(modules):
    """The motion modules TCAN puts in the ControlNet: down blocks 2 and 3 (from a motion module file
    they initialise it, as TCAN does before its stage-2 training; from a ControlNetT file they are it)."""
    chosen = {n: m for n, m in modules.items() if n.startswith(CONTROLNET_LEVELS)}
    if len(chosen) != 4:
        raise ValueError(f"the temporal ControlNet needs the 4 motion modules of down_blocks 2 and 3; found "
                         f"{sorted(chosen)}. Pick an AnimateDiff SD1.5 motion module (mm_sd_v15_v2.ckpt) or a TCAN "
                         "ControlNetT file")
    return chosen


def make_temporal_controlnet(base, modules, chunk_length=16, cross_frame_norm=False):
    """CONTROL_NET (stock comfy ControlNet) + motion modules -> TemporalControlNet; base is unchanged.

    modules=None gives the same chunked, frame-indexed ControlNet without temporal layers (TCAN's
    ablation without T-CtrlN; also what windows need from any ControlNet: the right hint frames).
    cross_frame_norm: GroupNorm across the frames of each chunk in the res blocks (TCAN's 3-D blocks)."""
    import comfy.controlnet

    if type(base) is not comfy.controlnet.ControlNet and type(base).__name__ != TemporalControlNet.__name__:
        raise ValueError(f"expected an SD1.5 ControlNet, got {type(base).__name__}; connect Load ControlNet Model with "
                         "control_v11p_sd15_openpose.pth")
    modules = controlnet_modules(modules) if modules is not None else None
    blocks = base.control_model.input_blocks
    if len(blocks) != 12 or getattr(blocks[7][0], "out_channels", None) != 1280:
        raise ValueError("the temporal ControlNet needs an SD1.5 ControlNet (12 input blocks, 1280 channels at level 3); "
                         "connect Load ControlNet Model with control_v11p_sd15_openpose.pth")
    control = TemporalControlNet(None, global_average_pooling=base.global_average_pooling,
                                 load_device=base.load_device, manual_cast_dtype=base.manual_cast_dtype)
    control.control_model = base.control_model
    control.control_model_wrapped = base.control_model_wrapped.clone()
    base.copy_to(control)
    control.set_previous_controlnet(base.previous_controlnet)
    control.chunk_length = int(chunk_length)
    control.frame_count = FrameCount()
    if cross_frame_norm:
        add_cross_frame_views(control.control_model_wrapped, control.control_model, "", control.frame_count,
                              final_norm=False)
    if modules is None:
        return control
    dtype = base.manual_cast_dtype or base.control_model.dtype
    control.temporal_patcher = insert_motion_modules(  # into the cldm ControlNet itself
        control.control_model_wrapped, {n: m.to(dtype=dtype) for n, m in modules.items()}, control.frame_count,
        model_of=lambda patcher: patcher.model)
    return control


def _controlnet_base():
    import comfy.controlnet

    return comfy.controlnet.ControlNet


class TemporalControlNet(_controlnet_base()):
    """comfy.controlnet.ControlNet with temporal layers, chunked evaluation and per-frame caching."""

    chunk_length = 16
    temporal_patcher = None
    frame_count = None
    cache_capacity = 2  # a window of chunk_length frames spans at most two chunks

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._cache, self._cache_key = None, None  # residuals of the current model evaluation

    def copy(self):
        c = TemporalControlNet(None, global_average_pooling=self.global_average_pooling,
                               load_device=self.load_device, manual_cast_dtype=self.manual_cast_dtype)
        c.control_model = self.control_model
        c.control_model_wrapped = self.control_model_wrapped
        c.chunk_length, c.frame_count, c.temporal_patcher = self.chunk_length, self.frame_count, self.temporal_patcher
        self.copy_to(c)
        return c

    def get_models(self):
        return super().get_models() + ([self.temporal_patcher] if self.temporal_patcher is not None else [])

    def cleanup(self):
        self._cache, self._cache_key = None, None
        super().cleanup()

    # -- evaluation -------------------------------------------------------------------------
    def _hint(self, frames, height, width, device, dtype):
        """Pose hint for the given absolute frame indices, at the latent's pixel size."""
        import comfy.utils

        hint = self.cond_hint_original
        picked = hint[[f % hint.shape[0] for f in frames]]  # a single image serves every frame
        picked = comfy.utils.common_upscale(picked, width * self.compression_ratio, height * self.compression_ratio,
                                            self.upscale_algorithm, "center")
        return self.preprocess_image(picked).to(device=device, dtype=dtype)

    def _run_chunk(self, sequence, frames, hint_frames, t, context, extra, dtype):
        """ControlNet over one chunk of `sequence` (rows `frames`, pose hints `hint_frames`) ->
        {"output": [...], "middle": [...]} with frames first."""
        import comfy.model_management

        x = sequence[frames.start:frames.stop].to(self.load_device if self.load_device is not None else sequence.device)
        t = t[:1].to(x.device).expand(x.shape[0])
        hint = self._hint([hint_frames[f] for f in frames], x.shape[-2], x.shape[-1], x.device, dtype)
        self.frame_count.frames = x.shape[0]
        try:
            return self.control_model(
                x=self.model_sampling_current.calculate_input(t, x).to(dtype), hint=hint,
                timesteps=self.model_sampling_current.timestep(t).to(dtype),
                context=comfy.model_management.cast_to_device(context.expand(x.shape[0], -1, -1), x.device, dtype),
                **extra)
        finally:
            self.frame_count.frames = None

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        control_prev = None
        if self.previous_controlnet is not None:
            control_prev = self.previous_controlnet.get_control(x_noisy, t, cond, batched_number, transformer_options)
        if self.timestep_range is not None and (t[0] > self.timestep_range[0] or t[0] < self.timestep_range[1]):
            return control_prev

        import comfy.model_base

        dtype = self.manual_cast_dtype or self.control_model.dtype
        per_chunk = x_noisy.shape[0] // batched_number
        context = cond.get("crossattn_controlnet", cond["c_crossattn"])
        extra = self.extra_args.copy()
        for name in self.extra_conds:
            value = cond.get(name)
            if value is not None:
                extra[name] = comfy.model_base.convert_tensor(value, dtype, x_noisy.device)[:1]

        window = window_of(transformer_options)
        if window is None:  # another sampler: the batch is the sequence, each chunk with its own text
            core_window = transformer_options.get("context_window")  # core's Context Windows: its frames' hints
            hint_frames = list(getattr(core_window, "index_list", range(per_chunk)))
            results = []
            for k in range(batched_number):
                rows = slice(k * per_chunk, (k + 1) * per_chunk)
                chunks = self._chunks(x_noisy[rows], hint_frames, t, context[rows][:1], extra, dtype)
                results.append(chunks.gather(range(per_chunk)))
        else:  # TCAN's window loop: the whole clip's chunks once per evaluation, positive text, all rows alike
            if self._cache is None or self._cache_key is not window.evaluation:
                text = window.evaluation.control_text
                if text is None:
                    text = positive_context(context, list(transformer_options.get("cond_or_uncond") or [0]), per_chunk)
                clip = window.clip_latents
                self._cache_key = window.evaluation  # identity of this evaluation's own object, held here
                self._cache = self._chunks(clip, range(clip.shape[0]), t, text, extra, dtype)
            results = [self._cache.gather(window.frames)] * batched_number
        control = {name: [None if results[0][name][i] is None else
                          torch.cat([r[name][i] for r in results]).to(x_noisy.device)
                          for i in range(len(values))]
                   for name, values in results[0].items()}
        return self.control_merge(control, control_prev, output_dtype=None)

    def _chunks(self, sequence, hint_frames, t, context, extra, dtype):
        """Per-frame residuals of a sequence, computed chunk by chunk when first needed."""
        return ChunkCache(sequence.shape[0], self.chunk_length,
                          lambda frames: self._run_chunk(sequence, frames, hint_frames, t, context, extra, dtype),
                          capacity=self.cache_capacity)
