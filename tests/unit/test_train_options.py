"""Training options: gradient accumulation equals the larger batch; bf16 mixed precision with
gradient checkpointing and bf16 frozen weights runs both stages through the command line."""

import glob
import os
import subprocess
import sys

import pytest
import torch

from . import tiny_models as tm

pytest.importorskip("accelerate")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one_step(train_files, out, batch_size, accumulation):
    from tcan_core.train.data import PairDataset
    from tcan_core.train.stage1 import Stage1
    from tcan_core.train.trainer import Options, Trainer

    data = PairDataset(train_files["cache"])
    torch.manual_seed(0)
    stage = Stage1(tm.unet(), tm.unet(5), tm.controlnet(), data.text_embedding())
    # large Adam eps, lr 1: the step is proportional to the gradient (see test_train_parity)
    options = Options(out=str(out), steps=1, batch_size=batch_size, gradient_accumulation=accumulation,
                      learning_rate=1.0, adam_epsilon=1.0, weight_decay=0.0, save_every=0, validate_every=0,
                      num_workers=0, progress=False, pack="never")
    Trainer(stage, data, None, options, log=lambda *_: None).train()
    return {n: p.detach().clone() for n, p in stage.trainable().items()}


def test_accumulating_two_micro_batches_equals_one_batch_of_two(train_files, tmp_path):
    whole, accumulated = one_step(train_files, tmp_path / "a", 2, 1), one_step(train_files, tmp_path / "b", 1, 2)
    single = one_step(train_files, tmp_path / "c", 1, 1)
    error = max((whole[k] - accumulated[k]).abs().max().item() for k in whole)
    half = max((whole[k] - single[k]).abs().max().item() for k in whole)
    assert half > 1e-3 and error <= 1e-3 * half, (error, half)  # the test can fail: one item alone differs


def test_bf16_checkpointing_and_bf16_frozen_weights_through_the_cli(train_files, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    options = ["--mixed-precision", "bf16", "--gradient-checkpointing", "--frozen-dtype", "bf16", "--num-workers", "1",
               "--no-progress", "--save-every", "0", "--validate-every", "1", "--steps", "1", "--pack", "never",
               "--cache", train_files["cache"], "--controlnet", train_files["controlnet"]]
    command = [sys.executable, "-m", "tcan_core.train"]
    first = subprocess.run([*command, "stage1", *options, "--out", str(tmp_path / "s1"), "--base", train_files["base"],
                            "--gradient-accumulation", "2"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "stage1: 1 steps, loss " in first.stdout and "loss nan" not in first.stdout
    unet = glob.glob(str(tmp_path / "s1" / "checkpoint-1" / "[[]UNet]_*.ckpt"))[0]
    appearance = glob.glob(str(tmp_path / "s1" / "checkpoint-1" / "[[]AppearanceEncoder]_*.ckpt"))[0]
    state = torch.load(unet, weights_only=True)
    lora = [v for k, v in state.items() if ".lora_B." in k]
    assert all(v.dtype == torch.float32 for v in lora) and any(v.abs().max() > 0 for v in lora)  # trained, fp32
    assert state["conv_in.weight"].dtype == torch.bfloat16  # frozen base held (and saved) in bf16
    second = subprocess.run([*command, "stage2", *options, "--out", str(tmp_path / "s2"), "--unet", unet,
                             "--appearance", appearance, "--motion-module", train_files["motion"]], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "stage2: 1 steps, loss " in second.stdout and "loss nan" not in second.stdout
