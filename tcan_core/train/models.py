"""Reading the base networks from local files: diffusers folders or single checkpoint files.

Nothing is looked up on a hub (HF_HUB_OFFLINE is set and every diffusers/transformers call is
`local_files_only`). Accepted, by what the file holds (the pack's `detect_kind`):
- a diffusers folder: a pipeline folder (`unet/`, `vae/`, `text_encoder/`) or one model's folder;
- an SD1.5 LDM checkpoint (`model.diffusion_model.…`, `first_stage_model.…`, `cond_stage_model.…`),
  e.g. Realistic Vision V5.1 or v1-5-pruned-emaonly.safetensors;
- a diffusers-named state dict (UNet, ControlNet such as control_v11p_sd15_openpose_RenamedForMA.pth,
  TCAN's [UNet] / [AppearanceEncoder] / [ControlNetT] files), or an LDM ControlNet
  (control_v11p_sd15_openpose.pth).
Single files carry no config: SD1.5's is used, with the widths read from the tensors (so the small
test models of the same topology load the same way). Loads are strict: a missing or unexpected key
is an error naming the file (tcan.md B7), except the parts TCAN's files omit by design.
"""

import os
from dataclasses import dataclass, field

import torch

from ..checkpoints import controlnet_name_map, detect_kind, read_state_dict, unet_name_map
from .reference import is_unused_by_reference

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

UNET_CONFIG = {
    "sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
    "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
    "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3,
    "block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768, "attention_head_dim": 8,
    "norm_num_groups": 32,
}
CONTROLNET_CONFIG = {key: UNET_CONFIG[key] for key in (
    "in_channels", "layers_per_block", "down_block_types", "block_out_channels", "cross_attention_dim",
    "attention_head_dim", "norm_num_groups")} | {"conditioning_embedding_out_channels": [16, 32, 96, 256]}
VAE_CONFIG = {
    "in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2, "sample_size": 512,
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512], "scaling_factor": 0.18215,
}
CLIP_CONFIG = {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
               "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
               "projection_dim": 768}
# CLIP ViT-L/14's tokens of the empty prompt padded to 77 as SD1.5 pads: start, end, end... (TCAN's
# only prompt, tcan.md 16.6); no tokenizer files are needed for it.
EMPTY_PROMPT_IDS = [49406] + [49407] * 76

WHAT_TO_GIVE = ("give a diffusers folder (a pipeline folder with unet/, vae/, text_encoder/, or a model folder "
                "with config.json) or a single checkpoint file (.safetensors, .ckpt, .pth, .bin)")


class ModelFileError(ValueError):
    """A base model path that is missing or holds the wrong thing."""


@dataclass
class LoadedUNet:
    model: torch.nn.Module
    kind: str
    lora: dict = field(default_factory=dict)  # peft factor keys of a TCAN [UNet] file
    motion: dict = field(default_factory=dict)  # AnimateDiff keys of a stage-2 file
    omitted: tuple = ()  # weights the file lacked by design (TCAN's appearance encoder)


def _exists(path, what):
    if not path:
        raise ModelFileError(f"no {what} given; {WHAT_TO_GIVE}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ModelFileError(f"{what} not found: {path}; {WHAT_TO_GIVE}")
    return path


def _subfolder(path, name):
    """A pipeline folder's component folder, or the folder itself when it is the component."""
    sub = os.path.join(path, name)
    if os.path.isfile(os.path.join(sub, "config.json")):
        return sub
    if os.path.isfile(os.path.join(path, "config.json")):
        return path
    raise ModelFileError(f"{path} is a folder without {name}/config.json or config.json; {WHAT_TO_GIVE}")


def _read(path, what):
    try:
        state, _, name = read_state_dict(path)
    except (ValueError, FileNotFoundError) as error:
        raise ModelFileError(f"{what}: {error}") from None
    return state, name


def _first(keys, count=5):
    keys = sorted(keys)
    return ", ".join(keys[:count]) + (f" and {len(keys) - count} more" if len(keys) > count else "")


def _load_strict(model, state, name, allowed_missing=()):
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if k not in allowed_missing]
    if missing or unexpected:
        raise ModelFileError(f"{name} does not fit the network: missing {len(missing)} ({_first(missing)}), "
                             f"unexpected {len(unexpected)} ({_first(unexpected)})")
    return model


def _widths(state, prefix=""):
    """SD1.5 config with the block widths / text width read from the tensors."""
    widths = [int(state[f"{prefix}down_blocks.{i}.resnets.0.conv1.weight"].shape[0]) for i in range(4)]
    context = int(state[f"{prefix}down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"].shape[1])
    return {"block_out_channels": widths, "cross_attention_dim": context}


def _from_ldm(state, name_map, prefix, name):
    inverse = {ldm: diffusers for diffusers, ldm in name_map.items()}
    body = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    unknown = [k for k in body if k not in inverse]
    if unknown:
        raise ModelFileError(f"{name}: {len(unknown)} keys of no SD1.5 layout ({_first(unknown)})")
    return {inverse[k]: v for k, v in body.items()}


def _split_tcan_unet(state):
    """TCAN [UNet] file -> (base weights, peft factors, motion modules)."""
    motion = {k: v for k, v in state.items() if ".motion_modules." in k}
    lora = {k: v for k, v in state.items() if (".lora_A." in k or ".lora_B." in k) and k not in motion}
    base = {k.replace(".base_layer.", ".", 1): v for k, v in state.items() if k not in motion and k not in lora}
    return base, lora, motion


def load_unet(path, what="UNet"):
    """-> LoadedUNet with a diffusers UNet2DConditionModel (fp32, frozen until a stage says otherwise)."""
    from diffusers import UNet2DConditionModel

    path = _exists(path, what)
    if os.path.isdir(path):
        model = UNet2DConditionModel.from_pretrained(_subfolder(path, "unet"), local_files_only=True)
        return LoadedUNet(model.float(), "diffusers_folder")
    state, name = _read(path, what)
    kind = detect_kind(state)
    lora, motion, omitted = {}, {}, ()
    if kind == "sd15_checkpoint":
        state = _from_ldm(state, unet_name_map(), "model.diffusion_model.", name)
    elif kind == "ldm_unet":
        prefix = "diffusion_model." if any(k.startswith("diffusion_model.") for k in state) else ""
        state = _from_ldm(state, unet_name_map(), prefix, name)
    elif kind == "tcan_unet":
        state, lora, motion = _split_tcan_unet(state)
    elif kind == "tcan_appearance":
        omitted = tuple(k for k in unet_name_map() if is_unused_by_reference(k) and k not in state)
    elif kind != "diffusers_unet":
        raise ModelFileError(f"{name} is not an SD1.5 UNet (it holds {kind.replace('_', ' ')} keys); {WHAT_TO_GIVE}")
    with torch.device("meta"):
        model = UNet2DConditionModel(**(UNET_CONFIG | _widths(state)))
    model = model.to_empty(device="cpu")
    _load_strict(model, {k: v.float() for k, v in state.items()}, name, allowed_missing=omitted)
    return LoadedUNet(model, kind, lora, motion, omitted)


def load_controlnet(path):
    """-> (diffusers ControlNetModel, AnimateDiff-keyed motion modules the file holds)."""
    from diffusers import ControlNetModel

    path = _exists(path, "ControlNet")
    if os.path.isdir(path):
        model = ControlNetModel.from_pretrained(_subfolder(path, "controlnet"), local_files_only=True)
        return model.float(), {}
    state, name = _read(path, "ControlNet")
    kind = detect_kind(state)
    if kind == "ldm_controlnet":
        prefix = "control_model." if any(k.startswith("control_model.") for k in state) else ""
        state = _from_ldm(state, controlnet_name_map(), prefix, name)
    elif kind not in ("diffusers_controlnet", "tcan_controlnet"):
        raise ModelFileError(f"{name} is not an SD1.5 ControlNet (it holds {kind.replace('_', ' ')} keys); "
                             "give the OpenPose ControlNet (control_v11p_sd15_openpose.pth, its diffusers folder, "
                             "or a [ControlNetT] file)")
    motion = {k: v for k, v in state.items() if ".motion_modules." in k}
    state = {k: v.float() for k, v in state.items() if k not in motion}
    embedding = [int(state[f"controlnet_cond_embedding.{n}.weight"].shape[0])
                 for n in ("conv_in", "blocks.1", "blocks.3", "blocks.5")]
    with torch.device("meta"):
        model = ControlNetModel(**(CONTROLNET_CONFIG | _widths(state) |
                                   {"conditioning_embedding_out_channels": embedding}))
    return _load_strict(model.to_empty(device="cpu"), state, name), motion


def load_vae(path):
    from diffusers import AutoencoderKL

    path = _exists(path, "VAE")
    if os.path.isdir(path):
        return AutoencoderKL.from_pretrained(_subfolder(path, "vae"), local_files_only=True).float()
    state, name = _read(path, "VAE")
    if "encoder.conv_in.weight" not in state and not any(k.startswith("first_stage_model.") for k in state):
        raise ModelFileError(f"{name} holds no VAE (no 'encoder.…' or 'first_stage_model.…' keys); {WHAT_TO_GIVE}")
    if "encoder.down_blocks.0.resnets.0.conv1.weight" not in state:  # LDM names: diffusers converts them
        from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

        state = convert_ldm_vae_checkpoint(state, VAE_CONFIG)
    widths = [int(state[f"encoder.down_blocks.{i}.resnets.0.conv2.weight"].shape[0]) for i in range(4)]
    with torch.device("meta"):
        model = AutoencoderKL(**(VAE_CONFIG | {"block_out_channels": widths}))
    return _load_strict(model.to_empty(device="cpu"), {k: v.float() for k, v in state.items()}, name)


def load_text_encoder(path):
    """CLIP text model of a pipeline folder or of an SD1.5 LDM checkpoint (needs `transformers`)."""
    try:
        from transformers import CLIPTextConfig, CLIPTextModel
    except ImportError:
        raise ModelFileError("the text encoder needs the `transformers` package: pip install 'tcan-animate[train]'") \
            from None
    path = _exists(path, "text encoder")
    if os.path.isdir(path):
        return CLIPTextModel.from_pretrained(_subfolder(path, "text_encoder"), local_files_only=True).float()
    state, name = _read(path, "text encoder")
    prefix = "cond_stage_model.transformer."
    body = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
    if not body:
        raise ModelFileError(f"{name} holds no SD1.5 CLIP text encoder ('{prefix}…' keys); give the SD1.5 checkpoint "
                             "or the diffusers pipeline folder")
    body = {k if k.startswith("text_model.") else "text_model." + k: v for k, v in body.items()}
    body.pop("text_model.embeddings.position_ids", None)
    model = CLIPTextModel(CLIPTextConfig(**CLIP_CONFIG))
    return _load_strict(model, body, name)


@torch.no_grad()
def empty_prompt_embedding(text_encoder):
    """CLIP("") last hidden state [1, 77, C]: the text context of every TCAN sample."""
    ids = torch.tensor([EMPTY_PROMPT_IDS], device=text_encoder.device)
    return text_encoder(ids).last_hidden_state.float().cpu()
