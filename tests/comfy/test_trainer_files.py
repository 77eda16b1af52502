"""Load TCAN with the files tcan-train writes (its own checkpoint writer, zero training steps).

The trainer's stage-1 networks are built from the random SD1.5 checkpoint's own UNet weights (in
half precision, as the checkpoint stores them, so nothing is rounded), so with the trainer's initial
LoRA (B = 0) its files must reproduce zero-shot Load TCAN, and a non-zero LoRA must change the
output: the UNet file's base and peft keys, and the appearance file without its 24 unused weights,
are read as the trainer meant them. One file per test keeps the memory of a 24 GB machine in check.
"""

import gc
import json
import os

import pytest
import torch

from .helpers import load_tcan as load
from .helpers import to_diffusers, unet_out

pytest.importorskip("diffusers")


def write_stage1_files(unet_ldm, out, lora_up_std):
    """-> {part: path} of the trainer's checkpoint at step 0."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    from tcan_core.checkpoints import unet_name_map
    from tcan_core.train.checkpoints import save
    from tcan_core.train.models import CONTROLNET_CONFIG, UNET_CONFIG
    from tcan_core.train.stage1 import Stage1

    state = {k: v.half() for k, v in to_diffusers(unet_ldm, unet_name_map()).items()}
    with torch.device("meta"):
        unet, appearance = UNet2DConditionModel(**UNET_CONFIG), UNet2DConditionModel(**UNET_CONFIG)
        controlnet = ControlNetModel(**CONTROLNET_CONFIG)  # frozen in stage 1 and not saved
    unet.load_state_dict(state, assign=True)
    appearance.load_state_dict(state, assign=True)  # the same tensors: no second copy
    stage = Stage1(unet, appearance, controlnet, torch.zeros(1, 77, 768),
                   lora_generator=torch.Generator().manual_seed(0), lora_up_std=lora_up_std)
    path = save(str(out), stage, torch.optim.AdamW(stage.trainable().values()), {"step": 0, "epoch": 0, "loss": 0.0})
    files = json.load(open(os.path.join(path, "state.json")))["files"]
    del stage, unet, appearance, state
    gc.collect()
    return {part: os.path.join(path, name) for part, name in files.items()}


@pytest.fixture(scope="module")
def zero_shot_output(parts):
    # per frame everywhere: a trainer's [UNet] file would get TCAN's cross-frame GroupNorm under auto
    patched, _ = load(parts, None, groupnorm="per frame")
    return unet_out(patched)


def test_unet_file(parts, zero_shot_output, tmp_path):
    from tcan_core.checkpoints import load_tcan_files

    files = write_stage1_files(parts[5], tmp_path / "initial", lora_up_std=0.0)
    patched, bundle = load(parts, load_tcan_files(unet=files["unet"]), groupnorm="per frame")
    assert bundle.mode == "tcan weights" and any("APPA LoRA" in n for n in bundle.notes)
    torch.testing.assert_close(unet_out(patched), zero_shot_output, rtol=0, atol=1e-5)  # B = 0: zero-shot
    del patched, bundle
    gc.collect()
    os.remove(files["appearance"])
    files = write_stage1_files(parts[5], tmp_path / "lora", lora_up_std=0.02)
    patched, _ = load(parts, load_tcan_files(unet=files["unet"]), groupnorm="per frame")
    difference = (unet_out(patched) - zero_shot_output).abs().max().item()
    print(f"\ntrainer's [UNet] file with a non-zero LoRA vs zero-shot: max |difference| {difference:.3g}")
    assert difference > 1e-3


def test_appearance_file(parts, zero_shot_output, tmp_path):
    from tcan_core.checkpoints import load_tcan_files

    files = write_stage1_files(parts[5], tmp_path, lora_up_std=0.0)
    os.remove(files["unet"])
    weights = load_tcan_files(appearance=files["appearance"])
    assert len(weights.appearance_missing) == 24
    patched, bundle = load(parts, weights)
    assert any("AppearanceEncoder" in n for n in bundle.notes)
    assert patched.get_additional_models_with_key("tcan_appearance")
    # the appearance UNet equals the base at step 0, and zero-shot uses the base as its encoder
    torch.testing.assert_close(unet_out(patched), zero_shot_output, rtol=0, atol=1e-5)
