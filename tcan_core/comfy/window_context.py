"""The window context: what TCAN's patches know about the batch in front of them.

One writer, TCAN's window loop (window_loop.TCANWindows), puts a Window into
transformer_options["tcan"] for every window of every model evaluation (ComfyUI core's handler
also publishes the same window as transformer_options["context_window"], for other packs).
Readers: the motion modules (temperature map), the temporal ControlNet (the whole clip's latents,
the window's frames, the evaluation it caches its residuals for), reference attention (the
evaluation's reference set and positive text) and TPC's masks. Without a Window (a plain model
call) the batch is the clip and nothing TCAN-specific applies.

How many frames a chunk of the batch holds is not stored: every reader derives it the same way
(`frames_per_chunk`), from the batch size and ComfyUI's cond/uncond chunk list.
"""

from dataclasses import dataclass, replace

KEY = "tcan"


@dataclass
class References:
    """The images the frames attend to in one model evaluation (reference attention's appearance pass).

    latents: [R, 4, h, w] clean latents in model space (the reference first, then TPC's calibrated images);
    slots: [N, S] long, per absolute frame the recorded images it attends to (None: all frames attend to
        all R images; TPC: [reference, its group's calibrated image]);
    masks: [R, h, w] person mask of each image at latent resolution, and calibrated: bool [R] which images
        are calibrated (TPC: calibrated tokens outside the person are never attended to);
    query_masks: [N, h, w] the driving person per frame (the public TPC code's masks), or None."""

    latents: object
    slots: object = None
    masks: object = None
    calibrated: object = None
    query_masks: object = None


@dataclass
class Evaluation:
    """One model evaluation of the sampler: one appearance pass, one temporal ControlNet pass.

    reference_text / control_text: the positive prompt's text [1, L, C] (TCAN runs the appearance net
    and its ControlNet with the positive text only)."""

    index: int
    references: References = None
    reference_text: object = None
    control_text: object = None


@dataclass
class Window:
    """The frames in the batch now: absolute indices into the clip, per cond/uncond chunk."""

    evaluation: Evaluation
    frames: list
    clip_latents: object  # [N, 4, h, w]: the whole clip at this evaluation (the ControlNet's chunks)
    temperature: object = None  # [H, W] the window's pose-driven temperature map, or None
    reference_pass: bool = False  # True inside the appearance pass (single images, no temporal layers)


def window_of(transformer_options):
    """The Window of the batch now in the model, or None (a plain call: the batch is the clip)."""
    return transformer_options.get(KEY)


def as_reference_pass(transformer_options):
    """A copy of transformer_options for the appearance pass of the current window."""
    window = window_of(transformer_options)
    options = dict(transformer_options)
    if window is not None:
        options[KEY] = replace(window, reference_pass=True)
    return options


def is_reference_pass(transformer_options):
    window = window_of(transformer_options)
    return window is not None and window.reference_pass


def chunk_count(transformer_options):
    """Number of cond/uncond chunks in the batch; each chunk holds all frames of the window."""
    return max(1, len(transformer_options.get("cond_or_uncond") or [0]))


def frames_per_chunk(batch, transformer_options):
    """Frames of each chunk of a batch of `batch` rows; 1 in the appearance pass, whose images are each
    normalised and attended alone (TCAN's appearance encoder is a 2-D UNet)."""
    if is_reference_pass(transformer_options):
        return 1
    return batch // chunk_count(transformer_options)


def positive_context(context, kinds, per_chunk):
    """The text of the positive (cond) chunk of a batch [1, L, C]; ComfyUI puts uncond first in a joint
    batch, so row 0 is not it. A batch without a cond chunk gives its first row."""
    chunk = kinds.index(0) if 0 in kinds else 0
    return context[chunk * per_chunk:chunk * per_chunk + 1]


class FrameCount:
    """Frames per chunk of the batch now in one network (None outside a forward: each frame alone).
    The network's runner keeps it current; its motion modules and cross-frame GroupNorms read it."""

    def __init__(self):
        self.frames = None


def track_frames(patcher, key):
    """A FrameCount for a (cloned) UNet patcher, set from frames_per_chunk at every forward by a
    DIFFUSION_MODEL wrapper (so the appearance pass, which re-enters the UNet, counts 1)."""
    from comfy.patcher_extension import WrappersMP

    count = FrameCount()

    def wrapper(executor, x, timesteps, context=None, y=None, control=None, transformer_options={}, **kwargs):
        previous, count.frames = count.frames, frames_per_chunk(x.shape[0], transformer_options)
        try:
            return executor(x, timesteps, context, y, control, transformer_options, **kwargs)
        finally:
            count.frames = previous

    patcher.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, key, wrapper)
    return count
