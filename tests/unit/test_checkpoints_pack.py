"""The pack's single safetensors file: round trip, layout, casting, and the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tcan_core.checkpoints import load_tcan_files, read_pack, write_pack
from tcan_core.checkpoints.convert import main

from .test_checkpoints_files import (
    appearance_state,
    official_controlnet_state,
    official_unet_state,
    small_controlnet,
    small_unet,
)

PACK_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def weights():
    unet, controlnet = small_unet(), small_controlnet()
    return load_tcan_files(unet=official_unet_state(unet), appearance=appearance_state(unet),
                           controlnet=official_controlnet_state(controlnet))


def assert_same(a, b, dtype=None):
    for field in ("unet_base", "motion_module_state", "appearance_unet", "controlnet", "controlnet_motion_state"):
        left, right = getattr(a, field), getattr(b, field)
        assert left.keys() == right.keys(), field
        for key in left:
            expected = left[key].to(dtype) if dtype and left[key].is_floating_point() else left[key]
            assert torch.equal(expected, right[key]), key
    assert a.lora.keys() == b.lora.keys()
    for key, lora in a.lora.items():
        assert torch.equal(lora.down.to(dtype or lora.down.dtype), b.lora[key].down)
        assert torch.equal(lora.up.to(dtype or lora.up.dtype), b.lora[key].up)
        assert lora.alpha == b.lora[key].alpha
    assert a.appearance_missing == b.appearance_missing


def test_round_trip(weights, tmp_path):
    path = tmp_path / "tcan.safetensors"
    write_pack(weights, path)
    back = read_pack(path)
    assert_same(weights, back)
    assert back.sources == weights.sources == {"unet": "unet state dict", "appearance": "appearance state dict",
                                               "controlnet": "controlnet state dict"}
    with safe_open(str(path), framework="pt") as handle:
        metadata, keys = handle.metadata(), list(handle.keys())
    assert metadata["format"] == "tcan-pack" and metadata["version"] == "1"
    assert len(json.loads(metadata["appearance_missing"])) == 24
    prefixes = {key.split(".")[0] for key in keys}
    assert prefixes == {"unet", "lora", "motion", "appearance", "controlnet", "controlnet_motion"}
    assert "unet.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight" in keys
    assert "lora.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.lora_down.weight" in keys
    assert "controlnet.zero_convs.0.0.weight" in keys


def test_pack_loads_like_the_official_files(weights, tmp_path):
    path = tmp_path / "tcan.safetensors"
    write_pack(weights, path)
    assert_same(weights, load_tcan_files(path))
    unet_only = load_tcan_files(unet=path)
    assert unet_only.roles == ("unet",)
    assert unet_only.sources == {"unet": "unet state dict"}


def test_fp16_and_shared_storage(weights, tmp_path):
    shared = torch.randn(4, 4)
    weights.controlnet_motion_state["down_blocks.2.motion_modules.0.extra_a"] = shared
    weights.controlnet_motion_state["down_blocks.2.motion_modules.0.extra_b"] = shared[1:]  # same storage
    try:
        path = tmp_path / "half.safetensors"
        write_pack(weights, path, dtype=torch.float16)
        back = read_pack(path)
    finally:
        for key in ("extra_a", "extra_b"):
            del weights.controlnet_motion_state[f"down_blocks.2.motion_modules.0.{key}"]
    assert back.unet_base["diffusion_model.out.2.weight"].dtype == torch.float16
    assert torch.equal(back.controlnet_motion_state["down_blocks.2.motion_modules.0.extra_b"], shared[1:].half())
    del back.controlnet_motion_state["down_blocks.2.motion_modules.0.extra_a"]
    del back.controlnet_motion_state["down_blocks.2.motion_modules.0.extra_b"]
    assert_same(weights, back, dtype=torch.float16)


def test_damaged_or_foreign_packs(weights, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "old.safetensors"
    save_file({"unet.x": torch.zeros(1)}, path, metadata={"format": "tcan-pack", "version": "0"})
    with pytest.raises(ValueError, match="old.safetensors is a TCAN pack of version '0'"):
        read_pack(path)
    save_file({"vae.x": torch.zeros(1)}, path, metadata={"format": "tcan-pack", "version": "1"})
    with pytest.raises(ValueError, match=r"damaged TCAN pack; unexpected keys \['vae.x'\]"):
        read_pack(path)
    save_file({"unet.x": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="is not a TCAN pack file"):
        read_pack(path)
    only_unet = tmp_path / "unet_only.safetensors"
    write_pack(load_tcan_files(unet=official_unet_state(small_unet(), motion=False)), only_unet)
    with pytest.raises(ValueError, match="TCAN pack without the controlnet part"):
        load_tcan_files(controlnet=only_unet)


def test_command_line(tmp_path):
    unet, controlnet = small_unet(), small_controlnet()
    for name, state in (("u.ckpt", official_unet_state(unet)), ("a.ckpt", appearance_state(unet)),
                        ("c.pth", official_controlnet_state(controlnet))):
        torch.save(state, tmp_path / name)
    out = tmp_path / "tcan.safetensors"
    result = subprocess.run([sys.executable, "-m", "tcan_core.checkpoints.convert", "--unet", str(tmp_path / "u.ckpt"),
                             "--appearance", str(tmp_path / "a.ckpt"), "--controlnet", str(tmp_path / "c.pth"),
                             "--out", str(out), "--dtype", "fp16"], cwd=PACK_ROOT, capture_output=True, text=True,
                             check=False)
    assert result.returncode == 0, result.stderr
    assert "96 LoRA targets, 20 motion modules" in result.stdout and "24 omitted by design" in result.stdout
    assert "4 motion modules" in result.stdout
    back = read_pack(out)
    assert back.sources == {"unet": "u.ckpt", "appearance": "a.ckpt", "controlnet": "c.pth"}
    assert back.appearance_unet["diffusion_model.input_blocks.0.0.weight"].dtype == torch.float16


def test_command_line_errors(tmp_path, capsys):
    torch.save(appearance_state(small_unet()), tmp_path / "a.ckpt")
    assert main(["--unet", str(tmp_path / "a.ckpt"), "--out", str(tmp_path / "x.safetensors")]) == 1
    assert "a.ckpt is not a TCAN UNet file" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "x.safetensors")])
    with pytest.raises(SystemExit):
        main(["--unet", str(tmp_path / "a.ckpt"), "--out", str(tmp_path / "x.ckpt")])
