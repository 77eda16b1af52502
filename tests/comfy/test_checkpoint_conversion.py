"""TCAN checkpoint conversion against ComfyUI's own models: converted weights load strictly into
ComfyUI's UNetModel and cldm ControlNet, reproduce the diffusers networks' outputs, are accepted as
ModelPatcher patches, and the full-size name maps equal ComfyUI's."""

import pytest
import torch

from tcan_core.checkpoints import UNET_PREFIX, controlnet_name_map, load_tcan_files, rename, unet_name_map
from tests.unit.test_checkpoints_files import (
    appearance_state,
    merged_diffusers_state,
    official_controlnet_state,
    official_unet_state,
    small_controlnet,
    small_unet,
)

diffusers = pytest.importorskip("diffusers")

# The small diffusers config of tests/unit/test_checkpoints_files.py in ComfyUI's terms.
SMALL_LDM = {"image_size": 16, "in_channels": 4, "out_channels": 4, "model_channels": 32,
             "num_res_blocks": [2, 2, 2, 2], "channel_mult": [1, 2, 2, 2], "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0],
             "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0], "transformer_depth_middle": 1,
             "context_dim": 32, "num_heads": 8, "num_head_channels": -1, "use_spatial_transformer": True,
             "legacy": False, "use_linear_in_transformer": False, "adm_in_channels": None,
             "use_temporal_attention": False, "use_temporal_resblock": False, "use_checkpoint": False,
             "dtype": torch.float32}
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def case(comfy_nodes):
    unet, controlnet = small_unet(seed=3), small_controlnet(seed=4)
    official = official_unet_state(unet, seed=5)
    weights = load_tcan_files(unet=official, appearance=appearance_state(unet),
                              controlnet=official_controlnet_state(controlnet))
    g = torch.Generator().manual_seed(6)
    inputs = {"x": torch.randn(2, 4, 16, 16, generator=g), "t": torch.tensor([999.0, 17.0]),
              "context": torch.randn(2, 8, 32, generator=g), "hint": torch.rand(2, 3, 128, 128, generator=g)}
    return unet, controlnet, official, weights, inputs


def diffusers_output(unet, state, inputs):
    """The reference: diffusers' own UNet with the LoRA folded on its side."""
    reference = small_unet()
    reference.load_state_dict(state, strict=True)
    with torch.no_grad():
        return reference(inputs["x"], inputs["t"], encoder_hidden_states=inputs["context"]).sample


def comfy_unet():
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    return UNetModel(**SMALL_LDM, device="cpu", operations=comfy.ops.disable_weight_init).eval()


def strip(state):
    return {key.removeprefix(UNET_PREFIX): value for key, value in state.items()}


def test_unet_loads_strictly_and_matches_diffusers_with_lora_folded(case):
    unet, _, official, weights, inputs = case
    model = comfy_unet()
    model.load_state_dict(strip(weights.unet_base), strict=True)
    with torch.no_grad():
        for key, delta in strip(weights.lora_deltas()).items():
            model.get_parameter(key).add_(delta)
        ours = model(inputs["x"], inputs["t"], context=inputs["context"])
    expected = diffusers_output(unet, merged_diffusers_state(official), inputs)
    assert ours.shape == expected.shape == (2, 4, 16, 16)
    assert expected.abs().max() > 0.1  # a real signal, not a zeroed network
    assert (ours - expected).abs().max() <= TOLERANCE
    # Without the deltas the outputs differ: the LoRA really is in the comparison.
    base = comfy_unet()
    base.load_state_dict(strip(weights.unet_base), strict=True)
    with torch.no_grad():
        assert (base(inputs["x"], inputs["t"], context=inputs["context"]) - expected).abs().max() > 100 * TOLERANCE


def test_model_patcher_takes_every_key_as_set_and_diff_patches(case):
    """The path Load TCAN uses: base weights as "set" and LoRA deltas as "diff" patches on a MODEL."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    unet, _, official, weights, inputs = case
    config = comfy.supported_models.SD15({k: v for k, v in SMALL_LDM.items() if k not in ("num_heads", "num_head_channels")})
    base_model = config.get_model({}, device="cpu")
    patcher = comfy.model_patcher.ModelPatcher(base_model, load_device=torch.device("cpu"), offload_device=torch.device("cpu"))
    model_keys = {k for k in base_model.state_dict() if k.startswith(UNET_PREFIX)}
    assert model_keys == set(weights.unet_base)
    base = patcher.add_patches({k: ("set", (v,)) for k, v in weights.unet_base.items()})
    lora = patcher.add_patches({k: ("diff", (d,)) for k, d in weights.lora_deltas().items()})
    assert set(base) == set(weights.unet_base) and set(lora) == set(weights.lora)
    comfy.model_management.load_models_gpu([patcher])
    with torch.no_grad():
        ours = base_model.diffusion_model(inputs["x"], inputs["t"], context=inputs["context"])
    expected = diffusers_output(unet, merged_diffusers_state(official), inputs)
    assert (ours - expected).abs().max() <= TOLERANCE
    patcher.unpatch_model()


def test_appearance_encoder_loads_with_only_the_omitted_keys_missing(case):
    unet, _, _, weights, inputs = case
    model = comfy_unet()
    missing, unexpected = model.load_state_dict(strip(weights.appearance_unet), strict=False)
    assert unexpected == [] and len(missing) == 24
    assert sorted(missing) == sorted(strip(dict.fromkeys(weights.appearance_missing)))
    # The omitted weights lie after the last recorded site: with them restored the network is diffusers'.
    with torch.no_grad():
        for key in weights.appearance_missing:
            model.get_parameter(key.removeprefix(UNET_PREFIX)).copy_(weights.unet_base[key])
        ours = model(inputs["x"], inputs["t"], context=inputs["context"])
    assert (ours - diffusers_output(unet, unet.state_dict(), inputs)).abs().max() <= TOLERANCE


def test_controlnet_loads_strictly_and_matches_diffusers(case):
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops

    _, controlnet, _, weights, inputs = case
    config = {k: v for k, v in SMALL_LDM.items() if k != "out_channels"}
    model = comfy.cldm.cldm.ControlNet(**config, hint_channels=3, device="cpu",
                                       operations=comfy.ops.disable_weight_init).eval()
    assert set(model.state_dict()) == set(weights.controlnet)
    model.load_state_dict(weights.controlnet, strict=True)
    with torch.no_grad():
        ours = model(inputs["x"], inputs["hint"], inputs["t"], inputs["context"])
        down, mid = controlnet(inputs["x"], inputs["t"], encoder_hidden_states=inputs["context"],
                               controlnet_cond=inputs["hint"], return_dict=False)
    assert len(ours["output"]) == len(down) == 12
    for a, b in zip([*ours["output"], *ours["middle"]], [*down, mid]):
        assert a.shape == b.shape and (a - b).abs().max() <= TOLERANCE
    # ComfyUI's ControlNet loader reads the converted names as an LDM ControlNet of this shape.
    detected = comfy.model_detection.detect_unet_config(weights.controlnet, "")
    for key in ("model_channels", "num_res_blocks", "channel_mult", "transformer_depth", "context_dim"):
        assert detected[key] == SMALL_LDM[key], key


@pytest.fixture(scope="module")
def sd15_meta(comfy_nodes):
    with torch.device("meta"):
        return (diffusers.UNet2DConditionModel(cross_attention_dim=768).state_dict(),
                diffusers.ControlNetModel(cross_attention_dim=768).state_dict())


def test_full_size_unet_map_equals_comfyui(sd15_meta):
    import comfy.model_detection
    import comfy.ops
    import comfy.utils
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    unet, _ = sd15_meta
    config = comfy.model_detection.unet_config_from_diffusers_unet(unet)
    assert config["model_channels"] == 320 and config["context_dim"] == 768 and config["num_heads"] == 8
    theirs = comfy.utils.unet_to_diffusers(config)
    ours = unet_name_map()
    assert {k: v for k, v in theirs.items() if k in ours} == ours
    # ComfyUI's map also names parameters SD1.5 does not have (class/add embeddings of other models,
    # a down/upsampler at the last level); neither network has them.
    extra = {k for k in theirs if k not in ours}
    assert {k.rsplit(".", 1)[0] for k in extra} == {
        "class_embedding.linear_1", "class_embedding.linear_2", "add_embedding.linear_1", "add_embedding.linear_2",
        "down_blocks.3.downsamplers.0.conv", "up_blocks.3.upsamplers.0.conv"}
    with torch.device("meta"):
        model = UNetModel(**config, device="meta", operations=comfy.ops.disable_weight_init)
    assert not extra & set(unet) and not {theirs[k] for k in extra} & set(model.state_dict())
    renamed = rename(unet, ours)
    assert (renamed.unexpected, renamed.missing) == ([], [])
    assert set(renamed.state) == set(model.state_dict())


def test_full_size_controlnet_map_equals_comfyui(sd15_meta):
    import comfy.cldm.cldm
    import comfy.model_detection
    import comfy.ops

    _, controlnet = sd15_meta
    config = comfy.model_detection.unet_config_from_diffusers_unet(controlnet)
    config.pop("out_channels")
    with torch.device("meta"):
        model = comfy.cldm.cldm.ControlNet(**config, hint_channels=3, device="meta",
                                           operations=comfy.ops.disable_weight_init)
    renamed = rename(controlnet, controlnet_name_map())
    assert (renamed.unexpected, renamed.missing) == ([], [])
    assert set(renamed.state) == set(model.state_dict())
