"""The training loop shared by both stages, on HF accelerate.

One process by default; `accelerate launch -m tcan_core.train …` runs data-parallel over GPUs and
machines: the stage module (every network, one DDP wrapper) and the optimizer go through
`accelerator.prepare`, each process reads its own slice of every global batch (`StepSampler`),
and only the main process writes logs and checkpoints. Clipping covers all trainable parameters
with one norm (tcan.md B15); the LR schedule is constant (TCAN's).
"""

import math
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass

import torch

from . import checkpoints
from .data import StepSampler, collate, validation_items
from .log import LossLog


@dataclass
class Options:
    out: str
    steps: int = 1000
    batch_size: int = 1
    learning_rate: float = 1e-5
    weight_decay: float = 1e-2
    adam_epsilon: float = 1e-8
    gradient_accumulation: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: str = "no"  # no | bf16 | fp16
    gradient_checkpointing: bool = False
    frozen_dtype: str = "fp32"  # fp32 | bf16 | fp16: frozen weights' storage (trainable ones stay fp32)
    save_every: int = 500
    keep_last: int = 3
    validate_every: int = 500
    validation_items: int = 16
    log_every: int = 10
    seed: int = 0
    num_workers: int = 2
    resume: str | None = None
    pack: str = "final"  # final | every | never
    progress: bool = True


class TrainingError(RuntimeError):
    """A failure with advice for the user (out of memory, bad resume)."""


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
OOM_ADVICE = ("out of memory. Lower it with, in order of effect: --gradient-checkpointing, --mixed-precision bf16 "
              "(or fp16), --frozen-dtype bf16, --batch-size 1 (use --gradient-accumulation N to keep the "
              "effective batch), a smaller training size (prepare --size), or more GPUs (accelerate launch)")


def peak_memory_bytes(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # peak resident set (Linux: KiB)


def _to(batch, device):
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class Trainer:
    def __init__(self, stage, train_set, val_set, options, *, accelerator=None, extra_parts=None, log=print):
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs

        self.options, self.log, self.extra_parts = options, log, extra_parts or {}
        self.accelerator = accelerator or Accelerator(
            mixed_precision=options.mixed_precision, gradient_accumulation_steps=options.gradient_accumulation,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=False)])
        acc = self.accelerator
        torch.manual_seed(options.seed + acc.process_index)  # nothing trained draws from it; dropout is 0
        if options.gradient_checkpointing:
            stage.enable_gradient_checkpointing()
        if options.frozen_dtype != "fp32":
            stage.cast_frozen(DTYPES[options.frozen_dtype])
        self.stage = stage
        self.params = list(stage.trainable().values())
        if not self.params:
            raise TrainingError("nothing to train")
        self.optimizer = torch.optim.AdamW(self.params, lr=options.learning_rate, betas=(0.9, 0.999),
                                           eps=options.adam_epsilon, weight_decay=options.weight_decay)
        self.step, self.epoch, self.loss_mean = 0, 0, float("nan")
        if options.resume:
            path = checkpoints.resolve(options.resume, options.out)
            info = checkpoints.load(path, stage, self.optimizer)
            self.step, self.epoch, self.loss_mean = info["step"], info.get("epoch", 0), info.get("loss", float("nan"))
            log(f"resumed from {path} at step {self.step}")
        self.model, self.optimizer = acc.prepare(stage, self.optimizer)
        self.train_set, self.val_set = train_set, val_set
        self.sampler = StepSampler(len(train_set), options.batch_size, world=acc.num_processes,
                                   rank=acc.process_index, seed=options.seed,
                                   start=self.step * options.gradient_accumulation)
        self.loader = torch.utils.data.DataLoader(train_set, batch_sampler=self.sampler, collate_fn=collate,
                                                  num_workers=options.num_workers,
                                                  persistent_workers=options.num_workers > 0)
        if acc.is_main_process:
            os.makedirs(options.out, exist_ok=True)
        self.loss_log = LossLog(options.out, enabled=acc.is_main_process)

    # ------------------------------------------------------------------------------------------
    def _micro_step(self, batch):
        # keyed by the optimisation step: N micro-batches of B items draw what one batch of N*B would
        draws = self.stage.draws(self.options.seed, self.step, batch)
        with self.accelerator.accumulate(self.model):
            loss = self.model(_to(batch, self.accelerator.device), draws)
            if not torch.isfinite(loss):
                raise TrainingError(f"the loss is {loss.item()} at step {self.step + 1}; lower --learning-rate, or "
                                    "use bf16 rather than fp16")
            self.accelerator.backward(loss)
            if self.accelerator.sync_gradients and self.options.max_grad_norm > 0:
                self.accelerator.clip_grad_norm_(self.params, self.options.max_grad_norm)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    @torch.no_grad()
    def validation_loss(self):
        """Mean loss over fixed held-out items (fixed frames, t and noise), shared across processes."""
        if self.val_set is None or not len(self.val_set):
            return None
        acc = self.accelerator
        items = validation_items(self.val_set, self.options.validation_items)
        mine = items[acc.process_index::acc.num_processes]
        total = torch.zeros(2, device=acc.device)
        for item in mine:
            batch = collate([self.val_set[item]])
            draws = self.stage.draws(self.options.seed, -1, batch)
            with acc.autocast():
                loss = self.stage(_to(batch, acc.device), draws).float()
                total += torch.stack([loss, torch.ones_like(loss)])
        total = acc.reduce(total, reduction="sum")
        return (total[0] / total[1]).item()

    def save(self, pack=False):
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            info = {"step": self.step, "epoch": self.epoch, "loss": self.loss_mean, "options": asdict(self.options),
                    "world": acc.num_processes}
            path = checkpoints.save(self.options.out, acc.unwrap_model(self.model), self.optimizer, info, pack=pack,
                                    extra_parts=self.extra_parts, scaler=acc.scaler)
            checkpoints.prune(self.options.out, self.options.keep_last)
            self.log(f"saved {path}")
        acc.wait_for_everyone()

    def _pack_now(self, final):
        return self.options.pack == "every" or (final and self.options.pack == "final")

    def train(self):
        """Run to `options.steps`; -> summary dict. Ctrl-C saves the last completed step first."""
        from tqdm.auto import tqdm

        acc, o = self.accelerator, self.options
        bar = tqdm(total=o.steps, initial=self.step, disable=not (acc.is_main_process and o.progress),
                   desc=self.stage.name, dynamic_ncols=True)
        window, started, first_step = [], time.perf_counter(), self.step
        data = iter(self.loader)
        self.model.train()
        try:
            while self.step < o.steps:
                losses = []
                for k in range(o.gradient_accumulation):
                    micro = self.step * o.gradient_accumulation + k
                    batch = next(data)
                    self.epoch = self.sampler.global_batch(micro)[0]
                    losses.append(self._micro_step(batch))
                self.step += 1
                window.append(acc.reduce(torch.stack(losses).mean(), reduction="mean").item())
                rate = (self.step - first_step) / (time.perf_counter() - started)
                bar.update(1)
                bar.set_postfix(loss=f"{window[-1]:.4f}", steps_s=f"{rate:.2f}")
                val = None
                if o.validate_every and self.step % o.validate_every == 0:
                    val = self.validation_loss()
                    if val is not None and acc.is_main_process:
                        bar.write(f"step {self.step}: validation loss {val:.4f}")
                if self.step % o.log_every == 0 or val is not None or self.step == o.steps:
                    self.loss_mean = sum(window) / len(window)  # windowed, all-processes mean (tcan.md B22)
                    self.loss_log.write(self.step, loss=self.loss_mean, val_loss=val if val is not None else "",
                                        lr=o.learning_rate, steps_per_s=rate, elapsed_s=time.perf_counter() - started)
                    window = []
                if o.save_every and self.step % o.save_every == 0 and self.step < o.steps:
                    self.save(pack=self._pack_now(False))
        except KeyboardInterrupt:
            bar.close()
            self.log(f"interrupted: saving step {self.step}")
            if window:
                self.loss_mean = sum(window) / len(window)
            self.save(pack=self._pack_now(True))
            self.loss_log.close()
            raise
        except torch.OutOfMemoryError as error:
            raise TrainingError(f"{self.stage.name}: {OOM_ADVICE} ({str(error).splitlines()[0]})") from None
        bar.close()
        if window:
            self.loss_mean = sum(window) / len(window)
        if self.step > first_step or not checkpoints.checkpoints(o.out):
            self.save(pack=self._pack_now(True))
        self.loss_log.close()
        seconds = time.perf_counter() - started
        return {"steps": self.step, "loss": self.loss_mean,
                "steps_per_s": (self.step - first_step) / seconds if seconds else math.nan,
                "peak_memory_bytes": peak_memory_bytes(acc.device), "out": o.out}


def interrupted_exit_code():
    return 130 if sys.platform != "win32" else 1
