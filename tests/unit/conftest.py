"""Shared fixtures of the trainer's tests: tiny base models and a prepared synthetic dataset."""

import pytest


@pytest.fixture(scope="session")
def train_files(tmp_path_factory):
    """{"base", "controlnet", "motion", "data", "cache"}: tiny models on disk and a prepared cache."""
    pytest.importorskip("diffusers")
    pytest.importorskip("accelerate")
    pytest.importorskip("transformers")
    import torch

    from tcan_core.train.models import empty_prompt_embedding, load_text_encoder, load_vae
    from tcan_core.train.prepare import prepare

    from . import synthetic_videos, tiny_models

    torch.set_num_threads(1)  # tiny networks: threads only add contention on a small machine
    root = tmp_path_factory.mktemp("train")
    paths = tiny_models.write_base(str(root / "models"))
    paths["data"] = str(root / "data")
    synthetic_videos.write_dataset(paths["data"], videos=4, frames=40, size=(tiny_models.SIZE,) * 2, broken=True)
    paths["cache"] = str(root / "cache")
    lines = []
    summary = prepare(paths["data"], paths["cache"], load_vae(paths["base"]),
                      empty_prompt_embedding(load_text_encoder(paths["base"])), size=(tiny_models.SIZE,) * 2,
                      log=lines.append)
    paths["prepare_log"], paths["prepare_summary"] = lines, summary
    return paths
