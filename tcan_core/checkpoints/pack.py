"""The pack's single-file form of a TCAN file set: one safetensors file, one prefix per part.

The official files are three pickles with diffusers names (over 10 GB in fp32); the pack form holds
the same tensors already converted, loads without pickle, and may be cast to fp16. Layout:
`unet.<model key>`, `lora.<model key minus .weight>.{lora_down.weight, lora_up.weight, alpha}`,
`motion.<AnimateDiff key>`, `appearance.<model key>`, `controlnet.<cldm name>`,
`controlnet_motion.<AnimateDiff key>`; metadata {"format": "tcan-pack", "version": "1", "sources":
JSON {role: file}, "appearance_missing": JSON list}.
"""

import json
import os

import torch

from .detect import PACK_FORMAT
from .lora import LoRA
from .read import read_state_dict
from .weights import TCANWeights

VERSION = "1"
_TENSOR_FIELDS = {"unet_base": "unet.", "motion_module_state": "motion.", "appearance_unet": "appearance.",
                  "controlnet": "controlnet.", "controlnet_motion_state": "controlnet_motion."}
_LORA = "lora."
_LORA_PARTS = (".lora_down.weight", ".lora_up.weight", ".alpha")


def _cast(tensor, dtype):
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def pack_tensors(weights, *, dtype=None):
    """TCANWeights -> ({prefixed key: tensor}, metadata), floating tensors cast to `dtype` if given."""
    tensors = {}
    for name, prefix in _TENSOR_FIELDS.items():
        for key, value in getattr(weights, name).items():
            tensors[prefix + key] = _cast(value, dtype)
    for key, lora in weights.lora.items():
        stem = _LORA + key.removesuffix(".weight")
        tensors[stem + ".lora_down.weight"] = _cast(lora.down, dtype)
        tensors[stem + ".lora_up.weight"] = _cast(lora.up, dtype)
        tensors[stem + ".alpha"] = torch.tensor(lora.alpha, dtype=torch.float32)
    metadata = {"format": PACK_FORMAT, "version": VERSION, "sources": json.dumps(weights.sources),
                "appearance_missing": json.dumps(list(weights.appearance_missing))}
    return tensors, metadata


def write_pack(weights, path, *, dtype=None):
    """Write TCANWeights as one safetensors file (see the module docstring for the layout)."""
    from safetensors.torch import save_file

    tensors, metadata = pack_tensors(weights, dtype=dtype)
    seen = set()
    for key, value in tensors.items():
        # safetensors refuses tensors that share memory (torch.save keeps such sharing).
        value = value.detach().contiguous()
        pointer = value.untyped_storage().data_ptr() if value.numel() else None
        tensors[key] = value.clone() if pointer in seen else value
        seen.add(pointer)
    save_file(tensors, os.fspath(path), metadata=metadata)


def unpack(tensors, metadata, *, source="pack"):
    """({prefixed key: tensor}, metadata) of a pack file -> TCANWeights."""
    metadata = metadata or {}
    if metadata.get("format") != PACK_FORMAT:
        raise ValueError(f"{source} is not a TCAN pack file (its metadata lacks format '{PACK_FORMAT}')")
    if metadata.get("version") != VERSION:
        raise ValueError(f"{source} is a TCAN pack of version {metadata.get('version')!r}; this pack reads "
                         f"version {VERSION}. Convert the official files again with this version.")
    parts = {name: {} for name in _TENSOR_FIELDS}
    factors, unexpected = {}, []
    for key, value in tensors.items():
        if key.startswith(_LORA):
            part = next((p for p in _LORA_PARTS if key.endswith(p)), None)
            if part is None:
                unexpected.append(key)
                continue
            factors.setdefault(key[len(_LORA):-len(part)] + ".weight", {})[part] = value
            continue
        name = next((n for n, prefix in _TENSOR_FIELDS.items() if key.startswith(prefix)), None)
        if name is None:
            unexpected.append(key)
        else:
            parts[name][key[len(_TENSOR_FIELDS[name]):]] = value
    incomplete = [key for key, f in factors.items() if len(f) != len(_LORA_PARTS)]
    if unexpected or incomplete:
        raise ValueError(f"{source}: damaged TCAN pack; unexpected keys {unexpected[:5]}, "
                         f"incomplete LoRA entries {incomplete[:5]}")
    lora = {key: LoRA(f[".lora_down.weight"], f[".lora_up.weight"], float(f[".alpha"]))
            for key, f in factors.items()}
    return TCANWeights(lora=lora, appearance_missing=tuple(json.loads(metadata.get("appearance_missing", "[]"))),
                       sources=json.loads(metadata.get("sources", "{}")), **parts)


def read_pack(path):
    """Read a file written by write_pack back into TCANWeights."""
    tensors, metadata, name = read_state_dict(path)
    return unpack(tensors, metadata, source=name)
