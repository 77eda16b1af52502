"""Load TCAN with TCAN-format files: official-layout state dicts built from the random SD1.5 models."""

import pytest
import torch

from .helpers import flat, load_tcan, official_unet, residuals, sample_inputs, to_diffusers, unet_out
from .models import CONTROLNET, MOTION_V2, model_path


def test_unet_file_base_and_lora(parts):
    from tcan_core.checkpoints import load_tcan_files

    model, _, _, motion_state, _, unet_ldm = parts
    per_frame = {"groupnorm": "per frame"}  # a TCAN file's auto GroupNorm is across frames, zero-shot v2's per frame
    # every patched MODEL below is a temporary: each TCAN load holds GBs (its patched weights, an appearance UNet)
    expected = unet_out(load_tcan(parts, None, **per_frame)[0])
    same_base_no_lora = load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.0))
    bundle = load_tcan(parts, same_base_no_lora, **per_frame)[1]
    assert bundle.mode == "tcan weights" and any("motion modules from the TCAN UNet" in n for n in bundle.notes)
    torch.testing.assert_close(unet_out(load_tcan(parts, same_base_no_lora, **per_frame)[0]), expected, rtol=0,
                               atol=1e-6)
    with_lora = load_tcan_files(unet=official_unet(unet_ldm, motion_state, lora_scale=0.05))
    assert not torch.allclose(unet_out(load_tcan(parts, with_lora, **per_frame)[0]), expected, atol=1e-4)
    torch.testing.assert_close(unet_out(load_tcan(parts, with_lora, lora_strength=0.0, **per_frame)[0]), expected, rtol=0,
                               atol=1e-6)
    shifted = {k: v * 1.01 if "to_out" in k else v for k, v in official_unet(unet_ldm, motion_state, 0.0).items()}
    assert not torch.allclose(unet_out(load_tcan(parts, load_tcan_files(unet=shifted), **per_frame)[0]), expected, atol=1e-4)
    # the user's MODEL keeps its own weights
    assert torch.equal(model.model.diffusion_model.output_blocks[11][1].proj_out.weight.float(),
                       unet_ldm["output_blocks.11.1.proj_out.weight"])


def test_appearance_file_drives_the_appearance_pass(parts):
    from tcan_core.checkpoints import APPEARANCE_OMITTED, load_tcan_files, unet_name_map

    _, _, _, _, _, unet_ldm = parts
    encoder = {k: v for k, v in to_diffusers(unet_ldm, unet_name_map()).items() if k not in set(APPEARANCE_OMITTED)}
    patched, bundle = load_tcan(parts, load_tcan_files(appearance=encoder))
    zero_shot, _ = load_tcan(parts, None)
    assert any("AppearanceEncoder" in n for n in bundle.notes) and patched.get_additional_models_with_key("tcan_appearance")
    torch.testing.assert_close(unet_out(patched), unet_out(zero_shot), rtol=0, atol=1e-5)  # same weights, same result
    other = {k: v * (1.05 if k.endswith("attn1.to_v.weight") else 1.0) for k, v in encoder.items()}
    assert not torch.allclose(unet_out(load_tcan(parts, load_tcan_files(appearance=other))[0]), unet_out(zero_shot), atol=1e-4)


def test_controlnet_t_file_gives_the_same_temporal_controlnet(parts):
    import comfy.utils

    from tcan_core.checkpoints import controlnet_name_map, load_tcan_files
    from tcan_core.comfy.temporal_controlnet import make_temporal_controlnet

    model, _, control_net, motion_state, modules, _ = parts
    raw = comfy.utils.load_torch_file(model_path("controlnet", CONTROLNET))
    official = to_diffusers({k: v.float() for k, v in raw.items()}, controlnet_name_map(), prefix="control_model.")
    official.update({k: v for k, v in motion_state.items() if k.startswith(("down_blocks.2.", "down_blocks.3."))})
    _, bundle = load_tcan(parts, load_tcan_files(controlnet=official))
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
        node.execute(model=model, control_net=control_net, motion_module=MOTION_V2, reference_attention=True,
                     reference_for_uncond=False, temporal_controlnet=True, ptm_tau=3.0, groupnorm="auto",
                     beta_schedule="sqrt_linear", tcan_unet="not_tcan.safetensors")
