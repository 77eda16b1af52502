"""Random-weight SD1.5-shaped model files for tests/comfy (TCAN_TEST_MODELS, see README.md)."""

import functools
import os

import pytest

CHECKPOINT = "sd15_random.safetensors"
MOTION_V2 = "mm_sd_v15_v2_random.ckpt"
MOTION_V1 = "mm_sd_v15_random.ckpt"
CONTROLNET = "openpose_random.safetensors"


def model_path(folder, name):
    root = os.environ.get("TCAN_TEST_MODELS")
    path = os.path.join(root, folder, name) if root else None
    if not path or not os.path.isfile(path):
        pytest.skip(f"needs TCAN_TEST_MODELS with {folder}/{name} (make them with ../shared/tools/comfyui/"
                    "make_models.py and make_motion_module.py; see tests/comfy/README.md)")
    return path


@functools.lru_cache(maxsize=1)
def _load_checkpoint(path):
    import comfy.sd

    model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(path, output_vae=True, output_clip=True)
    return model, clip, vae


def sd15():
    """(MODEL, CLIP, VAE) of the random SD1.5 checkpoint, loaded once per session."""
    return _load_checkpoint(model_path("checkpoints", CHECKPOINT))


def empty_conditioning(clip):
    return clip.encode_from_tokens_scheduled(clip.tokenize(""))
