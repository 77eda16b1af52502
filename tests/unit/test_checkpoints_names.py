"""diffusers -> LDM names, checked against a second, rule-by-rule reading of tcan.md 11.6 and against
diffusers' own SD1.5 UNet and ControlNet (full size, on the meta device). The authoritative check
against ComfyUI's models is tests/comfy/test_checkpoint_conversion.py."""

import re

import pytest
import torch

from tcan_core.checkpoints import UNET_PREFIX, controlnet_name_map, load_tcan_files, rename, unet_name_map

from .test_checkpoints_files import lora_targets, official_unet_state, small_unet

diffusers = pytest.importorskip("diffusers")

_RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
           "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}


def ldm_name(key):
    """tcan.md 11.6, transcribed as rewrite rules on one key (independent of the generated map)."""
    rules = [
        (r"conv_in\.", lambda m: "input_blocks.0.0."),
        (r"time_embedding\.linear_([12])\.", lambda m: f"time_embed.{2 * int(m[1]) - 2}."),
        (r"down_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"input_blocks.{3 * int(m[1]) + 1 + int(m[2])}.0.R."),
        (r"down_blocks\.(\d)\.attentions\.(\d)\.", lambda m: f"input_blocks.{3 * int(m[1]) + 1 + int(m[2])}.1."),
        (r"down_blocks\.(\d)\.downsamplers\.0\.conv\.", lambda m: f"input_blocks.{3 * int(m[1]) + 3}.0.op."),
        (r"mid_block\.resnets\.([01])\.", lambda m: f"middle_block.{2 * int(m[1])}.R."),
        (r"mid_block\.attentions\.0\.", lambda m: "middle_block.1."),
        (r"up_blocks\.(\d)\.resnets\.(\d)\.", lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.0.R."),
        (r"up_blocks\.(\d)\.attentions\.(\d)\.", lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.1."),
        (r"up_blocks\.0\.upsamplers\.0\.conv\.", lambda m: "output_blocks.2.1.conv."),
        (r"up_blocks\.([12])\.upsamplers\.0\.conv\.", lambda m: f"output_blocks.{3 * int(m[1]) + 2}.2.conv."),
        (r"conv_norm_out\.", lambda m: "out.0."),
        (r"conv_out\.", lambda m: "out.2."),
        # ControlNet (cldm)
        (r"controlnet_cond_embedding\.conv_in\.", lambda m: "input_hint_block.0."),
        (r"controlnet_cond_embedding\.blocks\.(\d)\.", lambda m: f"input_hint_block.{2 * int(m[1]) + 2}."),
        (r"controlnet_cond_embedding\.conv_out\.", lambda m: "input_hint_block.14."),
        (r"controlnet_down_blocks\.(\d+)\.", lambda m: f"zero_convs.{m[1]}.0."),
        (r"controlnet_mid_block\.", lambda m: "middle_block_out.0."),
    ]
    for pattern, replace in rules:
        match = re.match(pattern, key)
        if match:
            key = replace(match) + key[match.end():]
            break
    else:
        raise AssertionError(f"no rule for {key}")
    if ".R." in key:
        head, tail = key.split(".R.")
        module, param = tail.split(".")
        key = f"{head}.{_RESNET[module]}.{param}"
    return key


@pytest.fixture(scope="module")
def sd15():
    with torch.device("meta"):
        return (diffusers.UNet2DConditionModel(cross_attention_dim=768).state_dict(),
                diffusers.ControlNetModel(cross_attention_dim=768).state_dict())


def test_small_official_unet_gets_the_expected_ldm_names():
    model = small_unet()
    official = official_unet_state(model)
    weights = load_tcan_files(unet=official)
    expected = {UNET_PREFIX + ldm_name(key): value for key, value in model.state_dict().items()}
    assert weights.unet_base.keys() == expected.keys()
    for key, value in weights.unet_base.items():
        assert torch.equal(value, expected[key]), key
    targets = lora_targets(model.state_dict())
    assert weights.lora.keys() == {UNET_PREFIX + ldm_name(f"{t}.weight") for t in targets}
    for target in targets:
        lora = weights.lora[UNET_PREFIX + ldm_name(f"{target}.weight")]
        assert lora.down is official[f"{target}.lora_A.default.weight"]
        assert lora.up is official[f"{target}.lora_B.default.weight"]


def test_full_size_sd15_unet(sd15):
    unet, _ = sd15
    renamed = rename(unet, unet_name_map())
    assert (len(unet), renamed.unexpected, renamed.missing) == (686, [], [])
    assert len(set(renamed.state)) == 686  # one-to-one
    names = unet_name_map()
    for key in unet:
        assert names[key] == ldm_name(key), key
    assert renamed.state.keys() == {ldm_name(k) for k in unet}
    known = {  # tcan.md 11.6
        "conv_in.weight": "input_blocks.0.0.weight",
        "time_embedding.linear_2.bias": "time_embed.2.bias",
        "down_blocks.1.resnets.0.conv_shortcut.weight": "input_blocks.4.0.skip_connection.weight",
        "down_blocks.2.downsamplers.0.conv.weight": "input_blocks.9.0.op.weight",
        "down_blocks.3.resnets.1.time_emb_proj.weight": "input_blocks.11.0.emb_layers.1.weight",
        "mid_block.attentions.0.transformer_blocks.0.attn1.to_q.weight": "middle_block.1.transformer_blocks.0.attn1.to_q.weight",
        "mid_block.resnets.1.norm2.bias": "middle_block.2.out_layers.0.bias",
        "up_blocks.0.upsamplers.0.conv.weight": "output_blocks.2.1.conv.weight",
        "up_blocks.2.upsamplers.0.conv.bias": "output_blocks.8.2.conv.bias",
        "up_blocks.3.attentions.2.proj_out.weight": "output_blocks.11.1.proj_out.weight",
        "up_blocks.1.resnets.2.conv2.weight": "output_blocks.5.0.out_layers.3.weight",
        "conv_norm_out.weight": "out.0.weight",
        "conv_out.bias": "out.2.bias",
    }
    for key, value in known.items():
        assert names[key] == value


def test_full_size_lora_sites_are_the_16_attention_sites(sd15):
    unet, _ = sd15
    names = unet_name_map()
    targets = lora_targets(unet)
    assert len(targets) == 96
    sites = {names[f"{t}.weight"].split(".transformer_blocks.")[0] for t in targets}
    assert sites == ({f"input_blocks.{i}.1" for i in (1, 2, 4, 5, 7, 8)} | {"middle_block.1"}
                     | {f"output_blocks.{i}.1" for i in range(3, 12)})


def test_full_size_sd15_controlnet(sd15):
    _, controlnet = sd15
    names = controlnet_name_map()
    renamed = rename(controlnet, names)
    assert (len(controlnet), renamed.unexpected, renamed.missing) == (340, [], [])
    assert len(set(renamed.state)) == 340
    for key in controlnet:
        assert names[key] == ldm_name(key), key
    assert names["controlnet_cond_embedding.blocks.5.weight"] == "input_hint_block.12.weight"
    assert names["controlnet_down_blocks.11.bias"] == "zero_convs.11.0.bias"
    assert names["controlnet_mid_block.weight"] == "middle_block_out.0.weight"


def test_conv_shortcut_is_required_only_where_the_width_changes():
    state = dict(small_unet().state_dict())  # widths 32, 64, 64, 64: down_blocks.2 keeps its width
    assert "down_blocks.2.resnets.0.conv_shortcut.weight" not in state
    assert rename(state, unet_name_map()).missing == []
    del state["down_blocks.1.resnets.0.conv_shortcut.bias"]
    assert rename(state, unet_name_map()).missing == ["down_blocks.1.resnets.0.conv_shortcut.bias"]
