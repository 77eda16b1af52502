"""The trainer's files at full SD1.5 size are what the pack's checkpoint code detects and loads.

Networks are built on the meta device (shapes only, no memory) and saved by the trainer's own
checkpoint writer; one real-valued half-precision UNet with a non-zero LoRA checks the values path.
"""

import pytest
import torch

pytest.importorskip("diffusers")


def full_size_stage(stage_number):
    from diffusers import ControlNetModel, UNet2DConditionModel

    from tcan_core.temporal import MotionModule
    from tcan_core.train.models import CONTROLNET_CONFIG, UNET_CONFIG
    from tcan_core.train.stage1 import Stage1
    from tcan_core.train.stage2 import Stage2

    with torch.device("meta"):
        nets = (UNet2DConditionModel(**UNET_CONFIG), UNet2DConditionModel(**UNET_CONFIG),
                ControlNetModel(**CONTROLNET_CONFIG))
        text = torch.empty(1, 77, 768)
        if stage_number == 1:
            return Stage1(*nets, text)
        widths = [320, 640, 1280, 1280]
        names = [(f"down_blocks.{i}.motion_modules.{j}", widths[i]) for i in range(4) for j in range(2)]
        names += [(f"up_blocks.{i}.motion_modules.{j}", widths[3 - i]) for i in range(4) for j in range(3)]
        names += [("mid_block.motion_modules.0", 1280)]  # mm_sd_v15_v2 has one; TCAN does not use it
        motion = {f"{n}.{k}": v for n, w in names for k, v in MotionModule(w, 32).state_dict().items()}
        return Stage2(*nets, text, motion)


def save(stage, out):
    from tcan_core.train.checkpoints import save as save_checkpoint

    optimizer = torch.optim.AdamW(stage.trainable().values())
    path = save_checkpoint(str(out), stage, optimizer, {"step": 0, "epoch": 0, "loss": 0.0})
    import json
    import os

    files = json.load(open(os.path.join(path, "state.json")))["files"]
    return {part: os.path.join(path, name) for part, name in files.items()}


def test_stage1_files(tmp_path):
    from tcan_core.checkpoints import detect_kind, load_tcan_files, read_state_dict

    files = save(full_size_stage(1), tmp_path)
    assert sorted(files) == ["appearance", "unet"]
    unet_state = read_state_dict(files["unet"])[0]
    assert detect_kind(unet_state) == "tcan_unet"
    assert tuple(unet_state["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.default.weight"].shape) \
        == (16, 768)
    assert tuple(unet_state["up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.default.weight"].shape) \
        == (1280, 16)
    assert "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.base_layer.weight" in unet_state
    appearance_state = read_state_dict(files["appearance"])[0]
    assert detect_kind(appearance_state) == "tcan_appearance"
    weights = load_tcan_files(*files.values())  # assigned by their keys, as Load TCAN's loader does
    assert weights.roles == ("unet", "appearance")
    assert len(weights.lora) == 96 and len(weights.unet_base) == 686 and not weights.motion_module_state
    assert len(weights.appearance_missing) == 24  # tcan.md 11.1 with its correction


def test_stage2_files(tmp_path):
    from tcan_core.checkpoints import detect_kind, load_tcan_files, read_state_dict
    from tcan_core.temporal import motion_module_names

    files = save(full_size_stage(2), tmp_path)
    assert sorted(files) == ["controlnet", "unet"]
    controlnet_state = read_state_dict(files["controlnet"])[0]
    assert detect_kind(controlnet_state) == "tcan_controlnet"
    assert motion_module_names(controlnet_state) == [
        f"down_blocks.{i}.motion_modules.{j}" for i in (2, 3) for j in (0, 1)]
    weights = load_tcan_files(unet=files["unet"], controlnet=files["controlnet"])
    assert len(weights.lora) == 96
    assert len(motion_module_names(weights.motion_module_state)) == 20
    assert "mid_block.motion_modules.0" not in motion_module_names(weights.motion_module_state)
    pe = weights.motion_module_state["up_blocks.3.motion_modules.2.temporal_transformer.transformer_blocks.0."
                                     "attention_blocks.1.pos_encoder.pe"]
    assert tuple(pe.shape) == (1, 32, 320)
    assert len(weights.controlnet) == 340  # every ControlNet 1.1 weight (cldm names)


def test_full_size_unet_with_a_nonzero_lora_loads_with_its_values(tmp_path):
    from diffusers import UNet2DConditionModel

    from tcan_core.checkpoints import load_tcan_files
    from tcan_core.train.lora import attach_lora
    from tcan_core.train.models import UNET_CONFIG

    with torch.device("meta"):
        unet = UNet2DConditionModel(**UNET_CONFIG)
    unet = unet.to(torch.float16).to_empty(device="cpu")  # 1.7 GB, values never read
    attach_lora(unet, generator=torch.Generator().manual_seed(0), up_std=0.01)
    key = "up_blocks.3.attentions.2.transformer_blocks.0.attn1.to_v"
    down = unet.get_submodule(key).lora_A["default"].weight.detach().clone()
    up = unet.get_submodule(key).lora_B["default"].weight.detach().clone()
    torch.save(unet.state_dict(), tmp_path / "[UNet]_[Epoch=0]_[Iter=0]_[loss=0.0000].ckpt")
    del unet
    weights = load_tcan_files(tmp_path / "[UNet]_[Epoch=0]_[Iter=0]_[loss=0.0000].ckpt")
    lora = weights.lora["diffusion_model.output_blocks.11.1.transformer_blocks.0.attn1.to_v.weight"]
    assert torch.equal(lora.down, down) and torch.equal(lora.up, up) and lora.alpha == 16
    delta = lora.delta()
    assert delta.abs().max() > 0
    torch.testing.assert_close(delta.float(), up.float() @ down.float(), rtol=1e-2, atol=1e-4)
