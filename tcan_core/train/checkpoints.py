"""Training checkpoints: TCAN's official files, the pack's single file, and the state to resume.

A checkpoint is a folder `<out>/checkpoint-<step>/` holding
- TCAN's layout (tcan.md 11), read as is by Load TCAN / `load_tcan_files`:
  `[UNet]_[Epoch=E]_[Iter=I]_[loss=L].ckpt` (diffusers names, peft LoRA keys; stage 2 also the
  motion modules), `[AppearanceEncoder]_….ckpt` (stage 1; without the 24 weights reference
  attention never uses, as the official file), `[ControlNetT]_….ckpt` (stage 2);
- `tcan.safetensors`, the pack's single file (`write_pack`), when asked (by default the final one);
- `optimizer.pt` and `state.json` (step, seed, options, loss): with the files above, enough to resume.
  The trainable weights are read back from the official files, so they are stored once.
It is written to a temporary folder and renamed, so an interrupted save never hides the previous
checkpoint; only the last K are kept.
"""

import json
import os
import re
import shutil

import torch

from ..checkpoints import load_tcan_files, write_pack
from .reference import is_unused_by_reference

PARTS = {"unet": "UNet", "appearance": "AppearanceEncoder", "controlnet": "ControlNetT"}
PACK = "tcan.safetensors"
_FOLDER = re.compile(r"^checkpoint-(\d+)$")


def part_states(stage):
    """{part: state dict} of the official files a stage writes (stage 1: UNet + AppearanceEncoder;
    stage 2: UNet + ControlNetT)."""
    states = {"unet": stage.unet.state_dict()}
    if stage.name == "stage1":
        states["appearance"] = appearance_state(stage.appearance)
    else:
        states["controlnet"] = stage.controlnet.state_dict()
    return states


def appearance_state(appearance):
    return {k: v for k, v in appearance.state_dict().items() if not is_unused_by_reference(k)}


def _host(tensor):
    # a network built on the meta device (shapes only, e.g. to check full-size layouts) saves as it is
    return tensor.detach() if tensor.is_meta else tensor.detach().cpu()


def file_name(part, epoch, step, loss):
    return f"[{PARTS[part]}]_[Epoch={epoch}]_[Iter={step}]_[loss={loss:.4f}].ckpt"


def save(out, stage, optimizer, info, *, pack=False, extra_parts=None, scaler=None):
    """Write checkpoint-<step> under `out`; -> its path. info: step, epoch, loss, options, ..."""
    step = int(info["step"])
    final = os.path.join(out, f"checkpoint-{step}")
    tmp = final + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    states = part_states(stage)
    files = {}
    for part, state in states.items():
        files[part] = file_name(part, info.get("epoch", 0), step, info.get("loss", float("nan")))
        torch.save({k: _host(v) for k, v in state.items()}, os.path.join(tmp, files[part]))
    if pack:
        parts = {**(extra_parts or {}), **states}
        write_pack(load_tcan_files(**parts), os.path.join(tmp, PACK))
    torch.save({"optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler else None},
               os.path.join(tmp, "optimizer.pt"))
    with open(os.path.join(tmp, "state.json"), "w", encoding="utf-8") as f:
        json.dump({**info, "stage": stage.name, "files": files}, f, indent=1)
    if os.path.isdir(final):
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def checkpoints(out):
    """[(step, path)] of the complete checkpoints under `out`, oldest first."""
    if not os.path.isdir(out):
        return []
    found = [(int(m.group(1)), os.path.join(out, name)) for name in os.listdir(out)
             if (m := _FOLDER.match(name)) and os.path.isfile(os.path.join(out, name, "state.json"))]
    return sorted(found)


def prune(out, keep):
    """Delete all but the last `keep` checkpoints (keep <= 0: keep all)."""
    if keep > 0:
        for _, path in checkpoints(out)[:-keep]:
            shutil.rmtree(path, ignore_errors=True)


def resolve(resume, out):
    """--resume value -> a checkpoint folder: 'latest' is the newest under `out`."""
    if resume == "latest":
        found = checkpoints(out)
        if not found:
            raise FileNotFoundError(f"--resume latest: no checkpoint under {out}")
        return found[-1][1]
    if not os.path.isfile(os.path.join(resume, "state.json")):
        raise FileNotFoundError(f"--resume {resume}: not a checkpoint folder (no state.json)")
    return resume


def load(path, stage, optimizer, scaler=None):
    """Restore the trainable weights (from the official files), the optimizer and the step; -> info."""
    with open(os.path.join(path, "state.json"), encoding="utf-8") as f:
        info = json.load(f)
    if info["stage"] != stage.name:
        raise ValueError(f"{path} is a {info['stage']} checkpoint; this run is {stage.name}")
    trainable = stage.trainable()
    restored = set()
    for part, name in info["files"].items():
        state = torch.load(os.path.join(path, name), map_location="cpu", weights_only=True)
        with torch.no_grad():
            for key, value in state.items():
                full = f"{part}.{key}"
                if full in trainable:
                    trainable[full].copy_(value)
                    restored.add(full)
    missing = sorted(set(trainable) - restored)
    if missing:
        raise ValueError(f"{path} lacks {len(missing)} trainable weights of this run (e.g. {missing[:3]})")
    saved = torch.load(os.path.join(path, "optimizer.pt"), map_location="cpu", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    if scaler is not None and saved.get("scaler"):
        scaler.load_state_dict(saved["scaler"])
    return info
