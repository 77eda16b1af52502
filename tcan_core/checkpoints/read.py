"""Reading a checkpoint file into a flat state dict, the way TCAN's own loader accepts them.

TCAN saves with `torch.save(model.state_dict())` (.ckpt), possibly under DDP ("module." prefix)
or wrapped in {"state_dict": ...}; the pack's conversions are safetensors. Pickles are opened with
`weights_only=True`, so a file cannot run code.
"""

import os
from collections.abc import Mapping

import torch

_PICKLE_SUFFIXES = (".ckpt", ".pth", ".pt", ".bin")


def _load(path):
    """-> (raw object, metadata)"""
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file. TCAN checkpoint files belong in ComfyUI/models/tcan/.")
    lower = path.lower()
    if lower.endswith(".safetensors"):
        from safetensors import safe_open
        from safetensors.torch import load_file

        try:
            with safe_open(path, framework="pt") as handle:
                metadata = handle.metadata() or {}
            return load_file(path, device="cpu"), metadata
        except Exception as error:  # safetensors raises its own error types
            raise ValueError(f"{name} is not a readable safetensors file: {error}") from error
    if lower.endswith(_PICKLE_SUFFIXES):
        try:
            return torch.load(path, map_location="cpu", weights_only=True), {}
        except Exception as error:  # unpickling errors come in many types
            raise ValueError(f"{name} could not be read as a weights-only PyTorch checkpoint ({error}). "
                             "Expected a state dict saved with torch.save.") from error
    raise ValueError(f"{name}: unsupported file type; expected .safetensors, .ckpt, .pth, .pt or .bin")


def read_state_dict(source, name=None):
    """A path or a state dict -> (state dict, metadata, name for messages).

    Unwraps a top-level "state_dict" entry and strips DDP's "module." prefix from keys.
    """
    if isinstance(source, Mapping):
        raw, metadata, name = source, {}, name or "state dict"
    else:
        path = os.fspath(source)
        raw, metadata = _load(path)
        name = name or os.path.basename(path)
    if isinstance(raw, Mapping) and isinstance(raw.get("state_dict"), Mapping):
        raw = raw["state_dict"]
    if not isinstance(raw, Mapping):
        raise ValueError(f"{name} holds a {type(raw).__name__}, not a state dict")  # noqa: TRY004 (a wrong file)
    state = {key.removeprefix("module."): value for key, value in raw.items()}
    return state, metadata, name
