"""Loss log of a run: `loss.csv` always, TensorBoard events too when `tensorboard` is installed."""

import csv
import os

FIELDS = ("step", "loss", "val_loss", "lr", "steps_per_s", "elapsed_s")


class LossLog:
    def __init__(self, out, enabled=True):
        self.enabled = enabled
        self.writer = None
        if not enabled:
            return
        path = os.path.join(out, "loss.csv")
        new = not os.path.isfile(path)
        self.file = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115 (kept open for the run)
        self.csv = csv.DictWriter(self.file, FIELDS)
        if new:
            self.csv.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(os.path.join(out, "tb"))
        except ImportError:  # tensorboard is optional
            self.writer = None

    def write(self, step, **values):
        if not self.enabled:
            return
        self.csv.writerow({"step": step, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in values.items()}})
        self.file.flush()
        if self.writer is not None:
            for key, value in values.items():
                if isinstance(value, float):
                    self.writer.add_scalar(key, value, step)

    def close(self):
        if self.enabled:
            self.file.close()
            if self.writer is not None:
                self.writer.close()
