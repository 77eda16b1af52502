"""Data parallel: two processes (accelerate on CPU, gloo) with one item each end a step with the
same trainable weights as one process with both items."""

import glob
import os
import socket
import subprocess
import sys

import pytest
import torch

pytest.importorskip("accelerate")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weights(out):
    state = {}
    for path in glob.glob(os.path.join(out, "checkpoint-1", "*.ckpt")):
        part = os.path.basename(path).split("]")[0][1:]
        state.update({f"{part}.{k}": v for k, v in torch.load(path, weights_only=True).items()})
    return state


@pytest.mark.parametrize("stage", ["stage1", "stage2"])
def test_two_processes_equal_one_process_with_both_batches(train_files, tmp_path, stage):
    from tcan_core.train.cli import main

    if stage == "stage1":
        models = ["--base", train_files["base"]]
    else:  # stage 2 from plain UNet weights (zero LoRA) is enough to check the data-parallel path
        models = ["--unet", os.path.join(train_files["base"], "unet"), "--appearance",
                  os.path.join(train_files["base"], "unet"), "--motion-module", train_files["motion"]]
    # Adam's first step is lr * g / (|g| + eps): with eps 1e-8 a near-zero gradient element whose
    # rounding differs between the two reductions flips sign; a large eps makes the step proportional
    # to the gradient (lr 1 then gives a visible step), so the comparison measures the gradients.
    common = [stage, "--cache", train_files["cache"], "--controlnet", train_files["controlnet"], *models,
              "--steps", "1", "--learning-rate", "1", "--adam-epsilon", "1", "--weight-decay", "0",
              "--num-workers", "0", "--no-progress",
              "--save-every", "0", "--validate-every", "0", "--pack", "never"]
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    assert main([*common, "--out", one, "--batch-size", "2"]) == 0
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
              "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
              "--main_process_port", str(free_port()), "-m", "tcan_core.train"]
    result = subprocess.run([*launch, *common, "--out", two, "--batch-size", "1"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "saved" in result.stdout and result.stdout.count("saved") == 1  # rank 0 alone writes
    a, b = weights(one), weights(two)
    assert a.keys() == b.keys() and len(a) > 100
    # before the step: LoRA B is zero and the appearance UNet the base's (stage 1); the motion
    # modules are the file's (stage 2)
    start = motion_file_weights(train_files) if stage == "stage2" else {
        **{k: torch.zeros_like(v) for k, v in a.items() if ".lora_B." in k},
        **{f"AppearanceEncoder.{k}": v for k, v in base_unet_weights(train_files).items()
           if f"AppearanceEncoder.{k}" in a}}  # the step moved the weights: the comparison can fail
    error = max((a[k] - b[k]).abs().max().item() for k in a)
    moved = max((a[k] - start[k]).abs().max().item() for k in start)
    print(f"\n{stage}: 2 processes vs 1, largest trainable-weight difference after one step {error:.2e} "
          f"(largest change by the step {moved:.2e})")
    # float32 summation order differs between the two reductions; the tiny networks' 1x1 deepest
    # level (GroupNorm over 2 values) amplifies it to ~1e-4 of the step there
    assert moved > 1e-4 and error <= 1e-3 * moved


def motion_file_weights(train_files):
    """Stage 2's trainable weights before the step: the motion modules of the AnimateDiff file."""
    motion = torch.load(train_files["motion"], weights_only=True)
    start = {f"UNet.{k}": v for k, v in motion.items() if not k.startswith("mid_block")}
    start.update({f"ControlNetT.{k}": v for k, v in motion.items()
                  if k.startswith(("down_blocks.2.", "down_blocks.3."))})
    return start


def base_unet_weights(train_files):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel.from_pretrained(os.path.join(train_files["base"], "unet")).state_dict()
