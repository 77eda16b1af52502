"""tcan-train end to end through its command line: stage 1 then stage 2 from stage 1's files, with
the loss log, validation, the pack, and the advice an out-of-memory stop gives."""

import csv
import glob
import os

import pytest
import torch

pytest.importorskip("accelerate")


def test_stage1_then_stage2(train_files, tmp_path):
    from tcan_core.checkpoints import read_pack
    from tcan_core.train.cli import main

    common = ["--cache", train_files["cache"], "--controlnet", train_files["controlnet"], "--num-workers", "0",
              "--no-progress", "--save-every", "2", "--validate-every", "2", "--log-every", "1"]
    assert main(["stage1", *common, "--out", str(tmp_path / "s1"), "--base", train_files["base"], "--steps", "2"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "s1" / "loss.csv")))
    assert [r["step"] for r in rows] == ["1", "2"] and rows[1]["val_loss"] and float(rows[1]["loss"]) > 0
    stage1 = tmp_path / "s1" / "checkpoint-2"
    assert read_pack(stage1 / "tcan.safetensors").roles == ("unet", "appearance")
    unet = glob.glob(str(stage1 / "[[]UNet]_*.ckpt"))[0]
    appearance = glob.glob(str(stage1 / "[[]AppearanceEncoder]_*.ckpt"))[0]
    assert main(["stage2", *common, "--out", str(tmp_path / "s2"), "--unet", unet, "--appearance", appearance,
                 "--motion-module", train_files["motion"], "--steps", "2"]) == 0
    stage2 = tmp_path / "s2" / "checkpoint-2"
    pack = read_pack(stage2 / "tcan.safetensors")
    assert pack.roles == ("unet", "appearance", "controlnet")
    # stage 2 keeps stage 1's LoRA (frozen) and adds the motion modules
    lora_key = "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.default.weight"
    before = torch.load(unet, weights_only=True)[lora_key]
    after = torch.load(glob.glob(str(stage2 / "[[]UNet]_*.ckpt"))[0], weights_only=True)
    assert torch.equal(after[lora_key], before) and any(".motion_modules." in k for k in after)


class OutOfMemory(torch.utils.data.Dataset):
    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, item):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_says_what_to_lower(train_files, tmp_path):
    from tcan_core.train.data import PairDataset
    from tcan_core.train.stage1 import Stage1
    from tcan_core.train.trainer import Options, Trainer, TrainingError

    from . import tiny_models as tm

    data = PairDataset(train_files["cache"])
    stage = Stage1(tm.unet(), tm.unet(5), tm.controlnet(), data.text_embedding())
    trainer = Trainer(stage, OutOfMemory(data), None, Options(out=str(tmp_path), steps=1, num_workers=0,
                                                              progress=False), log=lambda *_: None)
    with pytest.raises(TrainingError) as error:
        trainer.train()
    for advice in ("--gradient-checkpointing", "--mixed-precision bf16", "--batch-size 1", "prepare --size"):
        assert advice in str(error.value)
    assert not os.path.isdir(tmp_path / "checkpoint-0")
