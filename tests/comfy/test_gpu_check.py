"""benchmarks/gpu_check.py keeps working before a GPU is there: its dry run on the CPU at tiny sizes."""

import json
import os
import subprocess
import sys

from . import harness
from .models import CHECKPOINT, model_path


def test_the_gpu_check_runs_every_stage_or_says_why_not(comfy_nodes, tmp_path):
    models = os.path.dirname(os.path.dirname(model_path("checkpoints", CHECKPOINT)))
    harness.release_memory()  # the check loads its own copies of the models, in another process
    run = subprocess.run([sys.executable, os.path.join(harness.PACK_DIR, "benchmarks", "gpu_check.py"), "--dry-run",
                          "--comfyui", os.environ["COMFYUI_PATH"], "--models", models, "--out", str(tmp_path),
                          "--budget-s", "900"], cwd=harness.PACK_DIR, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with open(tmp_path / "gpu_check.json") as f:
        results = json.load(f)
    stages = results["stages"]
    assert list(stages) == ["environment", "speed", "flat_vram", "cuda_correctness", "tests_comfy"]
    assert stages["environment"]["status"] == "ok" and stages["environment"]["attention"]
    speed = stages["speed"]
    assert speed["status"] == "ok", speed
    split = speed["split of the measured run (s)"]
    assert split["UNet windows"] > 0 and split["appearance pass"] > 0 and split["ControlNet chunks"] > 0
    assert split["VAE decode"] > 0 and speed["seconds per frame at 25 steps"] > 0
    assert all(stages[name]["status"] == "skipped: no CUDA" for name in ("flat_vram", "cuda_correctness", "tests_comfy"))
    summary = (tmp_path / "gpu_check.md").read_text()
    assert summary.startswith("# TCAN GPU check (dry run on the CPU)") and "## speed: ok" in summary
    assert "## flat_vram: skipped: no CUDA" in summary
