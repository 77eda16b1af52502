"""Resume: a run stopped (by its step budget or by Ctrl-C) and resumed ends where an uninterrupted run
of the same total steps ends; checkpoints keep the last K."""

import os

import pytest
import torch

from . import tiny_models as tm

pytest.importorskip("diffusers")
pytest.importorskip("accelerate")


def make_stage(train_files):
    from tcan_core.train.data import PairDataset
    from tcan_core.train.stage1 import Stage1

    torch.manual_seed(0)
    return Stage1(tm.unet(), tm.unet(5), tm.controlnet(), PairDataset(train_files["cache"]).text_embedding())


def run(train_files, out, steps, *, resume=None, dataset=None, keep_last=3):
    from tcan_core.train.data import PairDataset
    from tcan_core.train.trainer import Options, Trainer

    stage = make_stage(train_files)
    options = Options(out=str(out), steps=steps, batch_size=2, learning_rate=1e-3, save_every=2, keep_last=keep_last,
                      validate_every=0, num_workers=0, progress=False, resume=resume, pack="never")
    Trainer(stage, dataset or PairDataset(train_files["cache"]), None, options, log=lambda *_: None).train()
    return {n: p.detach().clone() for n, p in stage.trainable().items()}


class InterruptAt(torch.utils.data.Dataset):
    """The training data, with Ctrl-C arriving while the batch of step `step` is being read."""

    def __init__(self, dataset, batches_before):
        self.dataset, self.left = dataset, batches_before * 2  # two items per batch

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, item):
        if self.left == 0:
            raise KeyboardInterrupt
        self.left -= 1
        return self.dataset[item]


def assert_same(a, b):
    assert a.keys() == b.keys()
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst <= 1e-6, worst


def test_resume_equals_an_uninterrupted_run(train_files, tmp_path):
    straight = run(train_files, tmp_path / "a", 4)
    run(train_files, tmp_path / "b", 2)
    resumed = run(train_files, tmp_path / "b", 4, resume="latest")
    assert_same(resumed, straight)
    two_steps = run(train_files, tmp_path / "c", 2)
    changed = max((straight[k] - two_steps[k]).abs().max().item() for k in straight)
    assert changed > 1e-4  # the comparison can fail: two more steps do move the weights


def test_ctrl_c_leaves_a_checkpoint_to_resume_from(train_files, tmp_path):
    from tcan_core.train.checkpoints import checkpoints
    from tcan_core.train.data import PairDataset

    straight = run(train_files, tmp_path / "a", 4)
    with pytest.raises(KeyboardInterrupt):
        run(train_files, tmp_path / "b", 4, dataset=InterruptAt(PairDataset(train_files["cache"]), 3))
    assert [step for step, _ in checkpoints(tmp_path / "b")] == [2, 3]  # every 2 steps, and at Ctrl-C
    assert_same(run(train_files, tmp_path / "b", 4, resume="latest"), straight)


def test_keeps_the_last_k_checkpoints(train_files, tmp_path):
    from tcan_core.train.checkpoints import checkpoints

    run(train_files, tmp_path, 6, keep_last=2)
    assert [step for step, _ in checkpoints(str(tmp_path))] == [4, 6]
    files = sorted(os.listdir(tmp_path / "checkpoint-6"))
    assert files[0].startswith("[AppearanceEncoder]_[Epoch=") and "_[Iter=6]_[loss=" in files[0]
    assert files[1].startswith("[UNet]_") and {"optimizer.pt", "state.json"} <= set(files)
