"""Loading TCAN's checkpoint files: small random files in the official layout (tcan.md 11), built
from diffusers' own models, go in; roles, expected omissions and errors come out.

The builders here (small_unet, official_unet_state, ...) are also used by the other checkpoint
tests and by tests/comfy/test_checkpoint_conversion.py.
"""

import re

import pytest
import torch

from tcan_core.checkpoints import APPEARANCE_OMITTED, UNET_PREFIX, TCANWeights, load_tcan_files
from tcan_core.temporal import MotionModule, load_motion_modules

diffusers = pytest.importorskip("diffusers")

# SD1.5 topology at toy width: same parameter names as SD1.5 (tcan.md 11.6).
SMALL_UNET = {"sample_size": 16, "block_out_channels": (32, 64, 64, 64), "layers_per_block": 2,
              "cross_attention_dim": 32, "attention_head_dim": 8, "norm_num_groups": 32,
              "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
              "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
              "mid_block_type": "UNetMidBlock2DCrossAttn"}
SMALL_CONTROLNET = {k: v for k, v in SMALL_UNET.items()
                    if k not in ("sample_size", "up_block_types", "mid_block_type")}
LORA_TARGET = re.compile(r"attentions\.\d+\.transformer_blocks\.0\.attn[12]\.to_[qkv]$")
RANK = 4


def randomize(model, seed):
    """Distinct random weights everywhere, well scaled (diffusers zero-inits some layers and sets every
    norm to 1, which would hide swapped names)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.ndim == 1:
                p.copy_(1 + 0.1 * noise if "norm" in name and name.endswith("weight") else 0.1 * noise)
            else:
                p.copy_(noise / p[0].numel() ** 0.5)
    return model.eval()


def small_unet(seed=0):
    return randomize(diffusers.UNet2DConditionModel(**SMALL_UNET), seed)


def small_controlnet(seed=0):
    return randomize(diffusers.ControlNetModel(**SMALL_CONTROLNET), seed)


def motion_state(names_and_widths, seed=0, max_len=24):
    """Random AnimateDiff motion modules in the original key layout."""
    torch.manual_seed(seed)
    state = {}
    for name, width in names_and_widths:
        module = MotionModule(width, max_len=max_len)
        for key, value in module.state_dict().items():
            state[f"{name}.{key}"] = value.clone() if key.endswith(".pe") else torch.randn_like(value) * 0.1
    return state


def unet_motion_names(widths=SMALL_UNET["block_out_channels"]):
    down = [(f"down_blocks.{i}.motion_modules.{j}", w) for i, w in enumerate(widths) for j in range(2)]
    up = [(f"up_blocks.{i}.motion_modules.{j}", w) for i, w in enumerate(reversed(widths)) for j in range(3)]
    return down + up


def lora_targets(state):
    """The diffusers module names TCAN's peft config wraps (96 in an SD1.5 topology)."""
    return [k[:-len(".weight")] for k in state if k.endswith(".weight") and LORA_TARGET.search(k[:-len(".weight")])]


def official_unet_state(model, *, seed=1, motion=True):
    """The [UNet] file: base weights with peft renames, lora_A/lora_B per target, motion modules."""
    state = dict(model.state_dict())
    g = torch.Generator().manual_seed(seed)
    for module in lora_targets(state):
        weight = state.pop(f"{module}.weight")
        state[f"{module}.base_layer.weight"] = weight
        state[f"{module}.lora_A.default.weight"] = torch.randn(RANK, weight.shape[1], generator=g) * 0.1
        state[f"{module}.lora_B.default.weight"] = torch.randn(weight.shape[0], RANK, generator=g) * 0.1
    if motion:
        state.update(motion_state(unet_motion_names(), seed=seed))
    return state


def appearance_state(model):
    """The [AppearanceEncoder] file: a UNet2D state dict whose final block up_blocks.3.attentions.2
    keeps only norm, proj_in and transformer_blocks.0.norm1 (tcan.md 11.1)."""
    final, kept = "up_blocks.3.attentions.2.", ("norm.", "proj_in.", "transformer_blocks.0.norm1.")
    return {k: v for k, v in model.state_dict().items()
            if not k.startswith(final) or k[len(final):].startswith(kept)}


def official_controlnet_state(model, *, seed=2):
    """The [ControlNetT] file: a diffusers ControlNet plus motion modules in down blocks 2 and 3."""
    widths = SMALL_CONTROLNET["block_out_channels"]
    names = [(f"down_blocks.{i}.motion_modules.{j}", widths[i]) for i in (2, 3) for j in range(2)]
    return {**model.state_dict(), **motion_state(names, seed=seed)}


def merged_diffusers_state(official):
    """Independent LoRA fold on the diffusers side: W + B @ A (alpha = rank), plain names."""
    merged = {}
    for key, value in official.items():
        if ".lora_" in key or "motion_modules." in key:
            continue
        if ".base_layer." in key:
            module = key.split(".base_layer.")[0]
            up, down = official[f"{module}.lora_B.default.weight"], official[f"{module}.lora_A.default.weight"]
            merged[f"{module}.weight"] = value + up @ down
        else:
            merged[key] = value
    return merged


@pytest.fixture(scope="module")
def nets():
    return small_unet(), small_controlnet()


@pytest.fixture()
def files(nets, tmp_path):
    """The three official files on disk, saved the way TCAN's train.py may have (DDP, wrapped)."""
    unet, controlnet = nets
    paths = {}
    for role, state in (("UNet", official_unet_state(unet)), ("AppearanceEncoder", appearance_state(unet)),
                        ("ControlNetT", official_controlnet_state(controlnet))):
        path = tmp_path / f"[{role}]_[Epoch=1]_[Iter=10]_[loss=0.1].ckpt"
        wrapped = {"state_dict": {f"module.{k}": v for k, v in state.items()}} if role == "UNet" else state
        torch.save(wrapped, path)
        paths[role] = path
    return paths


def test_files_are_assigned_to_roles_by_their_keys(files):
    weights = load_tcan_files(*reversed(list(files.values())))
    assert isinstance(weights, TCANWeights)
    assert weights.roles == ("unet", "appearance", "controlnet")
    assert weights.sources == {"unet": files["UNet"].name, "appearance": files["AppearanceEncoder"].name,
                               "controlnet": files["ControlNetT"].name}
    named = load_tcan_files(unet=files["UNet"], appearance=files["AppearanceEncoder"], controlnet=files["ControlNetT"])
    for field in ("unet_base", "appearance_unet", "controlnet", "motion_module_state", "controlnet_motion_state"):
        assert getattr(named, field).keys() == getattr(weights, field).keys()


def test_unet_parts(nets):
    unet, _ = nets
    official = official_unet_state(unet)
    weights = load_tcan_files(unet=official)
    assert len(weights.unet_base) == len(unet.state_dict())
    assert all(key.startswith(UNET_PREFIX) for key in [*weights.unet_base, *weights.lora])
    assert len(weights.lora) == 96
    assert set(weights.lora) <= set(weights.unet_base)
    assert weights.motion_module_state == {k: v for k, v in official.items() if "motion_modules." in k}
    modules = load_motion_modules(weights.motion_module_state)
    assert len(modules) == 20 and "mid_block.motion_modules.0" not in modules
    stage1 = load_tcan_files(unet=official_unet_state(unet, motion=False))
    assert stage1.motion_module_state == {} and len(stage1.lora) == 96


def test_appearance_encoder_lacks_its_final_block_by_design(nets):
    unet, _ = nets
    weights = load_tcan_files(appearance=appearance_state(unet))
    assert len(APPEARANCE_OMITTED) == 20
    assert len(weights.appearance_missing) == 20
    assert {UNET_PREFIX + "output_blocks.11.1." + k.removeprefix("up_blocks.3.attentions.2.")
            for k in APPEARANCE_OMITTED} == set(weights.appearance_missing)
    assert all(k.startswith(UNET_PREFIX + "output_blocks.11.1.") for k in weights.appearance_missing)
    assert UNET_PREFIX + "output_blocks.11.1.proj_out.weight" in weights.appearance_missing
    assert UNET_PREFIX + "output_blocks.11.1.transformer_blocks.0.norm1.weight" in weights.appearance_unet
    assert len(weights.appearance_unet) + 20 == len(unet.state_dict())
    full = load_tcan_files(appearance=dict(unet.state_dict()))  # an encoder saved without the reset
    assert full.appearance_missing == () and len(full.appearance_unet) == len(unet.state_dict())


def test_appearance_encoder_without_output_layers_as_the_real_file(nets):
    # tcan.md 11.1 (correction): AppearanceEncoderModel has no conv_norm_out/conv_out, so 24 keys are absent
    unet, _ = nets
    state = {k: v for k, v in appearance_state(unet).items() if not k.startswith(("conv_norm_out.", "conv_out."))}
    weights = load_tcan_files(appearance=state)
    assert len(weights.appearance_missing) == 24
    assert {UNET_PREFIX + "out.0.weight", UNET_PREFIX + "out.2.bias"} <= set(weights.appearance_missing)
    assert len(weights.appearance_unet) + 24 == len(unet.state_dict())


def test_controlnet_parts(nets):
    _, controlnet = nets
    weights = load_tcan_files(controlnet=official_controlnet_state(controlnet))
    assert len(weights.controlnet) == len(controlnet.state_dict())
    assert "zero_convs.11.0.weight" in weights.controlnet and "input_hint_block.14.bias" in weights.controlnet
    assert sorted(load_motion_modules(weights.controlnet_motion_state)) == [
        "down_blocks.2.motion_modules.0", "down_blocks.2.motion_modules.1",
        "down_blocks.3.motion_modules.0", "down_blocks.3.motion_modules.1"]
    renamed_v11 = load_tcan_files(dict(controlnet.state_dict()))  # control_v11p_…_RenamedForMA.pth
    assert renamed_v11.roles == ("controlnet",) and renamed_v11.controlnet_motion_state == {}


def test_damaged_unet_names_the_file_and_the_keys(nets, tmp_path):
    unet, _ = nets
    state = official_unet_state(unet)
    del state["down_blocks.1.resnets.0.conv_shortcut.weight"]
    state["down_blocks.0.attentions.0.transformer_blocks.0.attn_temp.to_q.weight"] = torch.zeros(32, 32)
    path = tmp_path / "[UNet]_broken.ckpt"
    torch.save(state, path)
    with pytest.raises(ValueError) as error:
        load_tcan_files(unet=path)
    text = str(error.value)
    for needle in ("[UNet]_broken.ckpt", "TCAN UNet file", "Missing keys (1): down_blocks.1.resnets.0.conv_shortcut.weight",
                   "Unexpected keys (1): down_blocks.0.attentions.0.transformer_blocks.0.attn_temp.to_q.weight",
                   "ComfyUI/models/tcan"):
        assert needle in text


def test_appearance_missing_more_than_the_final_block_is_an_error(nets):
    unet, _ = nets
    state = appearance_state(unet)
    del state["up_blocks.3.attentions.2.norm.bias"]
    with pytest.raises(ValueError, match=r"Missing keys \(1\): up_blocks.3.attentions.2.norm.bias"):
        load_tcan_files(appearance=state)


def test_wrong_file_in_a_role_says_what_it_is_and_where_it_belongs(nets):
    unet, _ = nets
    motion_file = motion_state(unet_motion_names())
    with pytest.raises(ValueError) as error:
        load_tcan_files(unet=motion_file)
    text = str(error.value)
    assert "unet state dict is not a TCAN UNet file" in text
    assert "AnimateDiff motion module" in text and "ComfyUI/models/animatediff_models" in text
    assert "Missing keys (" in text and "conv_in.weight" in text
    with pytest.raises(ValueError, match="TCAN AppearanceEncoder file.*ComfyUI/models/tcan"):
        load_tcan_files(controlnet=appearance_state(unet))
    with pytest.raises(ValueError, match="It looks like a TCAN UNet file"):
        load_tcan_files(appearance=official_unet_state(unet, motion=False))


@pytest.mark.parametrize("state, folder", [
    ({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(1)}, "ComfyUI/models/checkpoints"),
    ({"control_model.zero_convs.0.0.weight": torch.zeros(1)}, "ComfyUI/models/controlnet"),
    ({"down_blocks.0.motion_modules.0.temporal_transformer.norm.weight": torch.zeros(1)},
     "ComfyUI/models/animatediff_models"),
])
def test_positional_non_tcan_file_points_to_its_folder(state, folder, tmp_path):
    path = tmp_path / "some_file.safetensors"
    from safetensors.torch import save_file

    save_file(state, path)
    with pytest.raises(ValueError, match=f"some_file.safetensors is not a TCAN file.*such files belong in {folder}"):
        load_tcan_files(path)


def test_unknown_file_lists_its_first_keys():
    with pytest.raises(ValueError, match=r"Its keys match no layout this pack knows \(first keys: encoder.conv_in.weight"):
        load_tcan_files({"encoder.conv_in.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match=r"not a TCAN ControlNetT file.*first keys: encoder.conv_in.weight.*Unexpected"):
        load_tcan_files(controlnet={"encoder.conv_in.weight": torch.zeros(1)})


def test_ambiguous_and_duplicate_files(nets):
    unet, _ = nets
    with pytest.raises(ValueError, match="pass it as unet= or appearance="):
        load_tcan_files(dict(unet.state_dict()))
    official = official_unet_state(unet, motion=False)
    with pytest.raises(ValueError, match="two files for the unet"):
        load_tcan_files(official, unet=official)
    with pytest.raises(ValueError, match="no TCAN files given"):
        load_tcan_files()


def test_lora_alpha_scales_the_deltas(nets):
    unet, _ = nets
    official = official_unet_state(unet, motion=False)
    default = load_tcan_files(unet=official).lora_deltas()
    halved = load_tcan_files(unet=official, lora_alpha=RANK / 2).lora_deltas()
    key = next(iter(default))
    torch.testing.assert_close(halved[key], default[key] / 2)
