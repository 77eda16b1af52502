"""Load TCAN with TCAN-format files: official-layout state dicts built from the random SD1.5 models."""

import re

import pytest
import torch

from .models import MOTION_V2, model_path, sd15
from .test_temporal_controlnet import CONTROLNET, flat, residuals, sample_inputs

LORA_TARGET = re.compile(r"attentions\.\d+\.transformer_blocks\.0\.attn[12]\.to_[qkv]\.weight$")


def to_diffusers(state, name_map, prefix=""):
    inverse = {ldm: d for d, ldm in name_map.items()}
    return {inverse[k[len(prefix):]]: v for k, v in state.items() if k.startswith(prefix) and k[len(prefix):] in inverse}


def official_unet(unet_ldm, motion_state, lora_scale, seed=0):
    """TCAN's [UNet] file layout: diffusers names, peft base_layer/lora_A/lora_B on the 96 targets, motion modules."""
    from tcan_core.checkpoints import unet_name_map

    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in to_diffusers(unet_ldm, unet_name_map()).items():
        if LORA_TARGET.search(key):
            stem = key[:-len(".weight")]
            state[stem + ".base_layer.weight"] = value
            state[stem + ".lora_A.default.weight"] = torch.randn(16, value.shape[1], generator=g) * 0.01
            state[stem + ".lora_B.default.weight"] = torch.randn(value.shape[0], 16, generator=g) * lora_scale
        else:
            state[key] = value
    state.update({k: v for k, v in motion_state.items() if not k.startswith("mid_block")})
    return state


@pytest.fixture(scope="module")
def parts(comfy_nodes):
    import comfy.controlnet
    import comfy.utils

    from tcan_core.temporal import load_motion_modules

    model, clip, vae = sd15()
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    motion_state = comfy.utils.load_torch_file(model_path("animatediff_models", MOTION_V2))
    unet_ldm = {k: v.float() for k, v in model.model.diffusion_model.state_dict().items()}
    return model, clip, control_net, motion_state, load_motion_modules(motion_state), unet_ldm


def load(parts, weights, **options):
    from tcan_core.comfy.load import load_tcan

    model, _, control_net, _, modules, _ = parts
    return load_tcan(model, control_net, modules, weights=weights, **options)


def unet_out(patcher, seed=0):
    from .test_motion_modules import apply_model

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 4, 8, 8, generator=g)
    reference = torch.randn(1, 4, 8, 8, generator=g) * 0.18
    return apply_model(patcher, x, {"cond_or_uncond": [0, 1], "tcan": {"reference_latent": reference}})


def test_unet_file_base_and_lora(parts):
    from tcan_core.checkpoints import load_tcan_files

    model, _, _, motion_state, _, unet_ldm = parts
    per_frame = {"groupnorm": "per frame"}  # a TCAN file's auto GroupNorm is across frames, zero-shot v2's per frame
    zero_shot, _ = load(parts, None, **per_frame)
    same_base_no_lora = load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.0))
    patched, bundle = load(parts, same_base_no_lora, **per_frame)
    assert bundle.mode == "tcan weights" and any("motion modules from the TCAN UNet" in n for n in bundle.notes)
    expected = unet_out(zero_shot)
    torch.testing.assert_close(unet_out(patched), expected, rtol=0, atol=1e-6)
    with_lora = load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.05))
    assert not torch.allclose(unet_out(load(parts, with_lora, **per_frame)[0]), expected, atol=1e-4)
    torch.testing.assert_close(unet_out(load(parts, with_lora, lora_strength=0.0, **per_frame)[0]), expected, rtol=0,
                               atol=1e-6)
    shifted = {k: v * 1.01 if "to_out" in k else v for k, v in official_unet(unet_ldm, motion_state, 0.0).items()}
    assert not torch.allclose(unet_out(load(parts, load_tcan_files(unet=shifted), **per_frame)[0]), expected, atol=1e-4)
    # the user's MODEL keeps its own weights
    assert torch.equal(model.model.diffusion_model.output_blocks[11][1].proj_out.weight.float(),
                       unet_ldm["output_blocks.11.1.proj_out.weight"])


def test_appearance_file_drives_the_appearance_pass(parts):
    from tcan_core.checkpoints import APPEARANCE_OMITTED, load_tcan_files, unet_name_map

    _, _, _, _, _, unet_ldm = parts
    encoder = {k: v for k, v in to_diffusers(unet_ldm, unet_name_map()).items() if k not in set(APPEARANCE_OMITTED)}
    patched, bundle = load(parts, load_tcan_files(appearance=encoder))
    zero_shot, _ = load(parts, None)
    assert any("AppearanceEncoder" in n for n in bundle.notes) and patched.get_additional_models_with_key("tcan_appearance")
    torch.testing.assert_close(unet_out(patched), unet_out(zero_shot), rtol=0, atol=1e-5)  # same weights, same result
    other = {k: v * (1.05 if k.endswith("attn1.to_v.weight") else 1.0) for k, v in encoder.items()}
    assert not torch.allclose(unet_out(load(parts, load_tcan_files(appearance=other))[0]), unet_out(zero_shot), atol=1e-4)


def test_controlnet_t_file_gives_the_same_temporal_controlnet(parts):
    import comfy.utils

    from tcan_core.checkpoints import controlnet_name_map, load_tcan_files
    from tcan_core.comfy.controlnet import make_temporal_controlnet

    model, _, control_net, motion_state, modules, _ = parts
    raw = comfy.utils.load_torch_file(model_path("controlnet", CONTROLNET))
    official = to_diffusers({k: v.float() for k, v in raw.items()}, controlnet_name_map(), prefix="control_model.")
    official.update({k: v for k, v in motion_state.items() if k.startswith(("down_blocks.2.", "down_blocks.3."))})
    _, bundle = load(parts, load_tcan_files(controlnet=official))
    x, hint = sample_inputs(16, seed=8)
    # a ControlNetT is TCAN's 3-D ControlNet: GroupNorm across the frames of each chunk
    expected = flat(residuals(make_temporal_controlnet(control_net, modules, cross_frame_norm=True), model, x, hint))
    torch.testing.assert_close(flat(residuals(bundle.controlnet, model, x, hint)), expected, rtol=1e-4, atol=1e-4)


def test_node_rejects_a_file_of_the_wrong_kind(parts, comfy_nodes, tmp_path):
    import folder_paths
    from safetensors.torch import save_file

    save_file({"model.diffusion_model.out.0.weight": torch.zeros(4)}, str(tmp_path / "not_tcan.safetensors"))
    folder_paths.add_model_folder_path("tcan", str(tmp_path))
    model, _, control_net, _, _, _ = parts
    node = comfy_nodes.NODE_CLASS_MAPPINGS["TCANLoadTCAN"]
    with pytest.raises(ValueError, match="not_tcan"):
        node.execute(model, control_net, MOTION_V2, True, False, True, 3.0, "auto", "sqrt_linear",
                     tcan_unet="not_tcan.safetensors")
