"""File kinds by tell-tale keys (tcan.md 11 table), and reading files the way TCAN's loader does."""

import pytest
import torch

from tcan_core.checkpoints import KINDS, detect_kind, read_state_dict

from .test_checkpoints_files import (
    appearance_state,
    motion_state,
    official_controlnet_state,
    official_unet_state,
    small_controlnet,
    small_unet,
    unet_motion_names,
)


@pytest.fixture(scope="module")
def states():
    unet, controlnet = small_unet(), small_controlnet()
    return {
        "tcan_unet": official_unet_state(unet),
        "tcan_unet_stage1": official_unet_state(unet, motion=False),
        "tcan_appearance": appearance_state(unet),
        "diffusers_unet": dict(unet.state_dict()),
        "tcan_controlnet": official_controlnet_state(controlnet),
        "diffusers_controlnet": dict(controlnet.state_dict()),
        "motion_module": motion_state(unet_motion_names()),
    }


@pytest.mark.parametrize("name, kind", [
    ("tcan_unet", "tcan_unet"), ("tcan_unet_stage1", "tcan_unet"), ("tcan_appearance", "tcan_appearance"),
    ("diffusers_unet", "diffusers_unet"), ("tcan_controlnet", "tcan_controlnet"),
    ("diffusers_controlnet", "diffusers_controlnet"), ("motion_module", "motion_module"),
])
def test_kind_of_each_tcan_file(states, name, kind):
    assert detect_kind(states[name]) == kind


@pytest.mark.parametrize("keys, kind", [
    (["model.diffusion_model.input_blocks.0.0.weight", "first_stage_model.encoder.conv_in.weight"], "sd15_checkpoint"),
    (["control_model.zero_convs.0.0.weight", "control_model.input_hint_block.0.weight"], "ldm_controlnet"),
    (["zero_convs.0.0.weight"], "ldm_controlnet"),
    (["input_blocks.0.0.weight", "out.2.weight"], "ldm_unet"),
    (["encoder.conv_in.weight"], "unknown"),
    ([], "unknown"),
])
def test_kind_of_other_files(keys, kind):
    assert detect_kind(keys) == kind
    assert KINDS[kind].description and (KINDS[kind].folder.startswith("ComfyUI/models/") or kind == "unknown")


def test_pack_is_known_by_its_metadata():
    assert detect_kind(["unet.diffusion_model.out.2.weight"], {"format": "tcan-pack", "version": "1"}) == "tcan_pack"


def test_reading_unwraps_state_dict_and_strips_ddp_prefix(tmp_path):
    weight = torch.arange(6.0).reshape(2, 3)
    path = tmp_path / "[UNet]_x.ckpt"
    torch.save({"state_dict": {"module.conv_in.weight": weight}, "epoch": 3}, path)
    state, metadata, name = read_state_dict(path)
    assert list(state) == ["conv_in.weight"] and torch.equal(state["conv_in.weight"], weight)
    assert (metadata, name) == ({}, "[UNet]_x.ckpt")
    bin_path = tmp_path / "diffusion_pytorch_model.bin"
    torch.save({"conv_in.weight": weight}, bin_path)
    assert list(read_state_dict(bin_path)[0]) == ["conv_in.weight"]


def test_reading_safetensors_keeps_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "x.safetensors"
    save_file({"a": torch.ones(2)}, path, metadata={"format": "tcan-pack"})
    state, metadata, _ = read_state_dict(path)
    assert list(state) == ["a"] and metadata == {"format": "tcan-pack"}


class NotAWeight:
    pass


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ckpt: no such file.*ComfyUI/models/tcan"):
        read_state_dict(tmp_path / "nope.ckpt")
    pickled = tmp_path / "code.ckpt"
    torch.save({"x": NotAWeight()}, pickled)
    with pytest.raises(ValueError, match="code.ckpt could not be read as a weights-only PyTorch checkpoint"):
        read_state_dict(pickled)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_state_dict(tmp_path / "x.txt")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="bad.safetensors is not a readable safetensors file"):
        read_state_dict(tmp_path / "bad.safetensors")
    tensor_file = tmp_path / "t.pt"
    torch.save(torch.zeros(2), tensor_file)
    with pytest.raises(ValueError, match="t.pt holds a Tensor, not a state dict"):
        read_state_dict(tensor_file)
