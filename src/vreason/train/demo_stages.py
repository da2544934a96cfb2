"""A stage of the built-in model's build and its record: the record file beside a stage's output (its result,
seconds and machine), run-or-reuse, the machine's words, and the files a trained model is installed with. The
recipe (demo_recipe.py) and the follow-up runs after it (demo_continue.py) both build through these, so a stage
made by either reads the same.

    record = run_stage(folder, lambda: train(...), {"seed": 3})   # runs unless folder holds a record
    install_loadable(run_folder, Path("src/vreason/assets/demo-model"))
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGE_RECORD = "stage.json"  # beside each stage's output: its result, seconds and machine (for --reuse)
LOADABLE_FILES = ("config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
                  "tokenizer_config.json", "processor_config.json", "chat_template.jinja")


def run_stage(folder: Path, run: Callable[[], Any], extra: dict | None = None) -> dict:
    """Run a stage unless `folder` holds its record; the record either way. `extra`: facts of how it ran, written
    into a new record (a reused record keeps saying what the code that made it did)."""
    record_file = folder / STAGE_RECORD
    if record_file.is_file():
        return json.loads(record_file.read_text())
    begun = time.perf_counter()
    result = run()
    folder.mkdir(parents=True, exist_ok=True)
    record = {"result": result, "seconds": round(time.perf_counter() - begun, 1), "machine": machine(),
              **(extra or {})}
    record_file.write_text(json.dumps(record, indent=1))
    return record


def machine() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()} (CUDA), {os.cpu_count()} CPU cores"
    return f"{os.cpu_count()}-core CPU (no GPU)"


def wall_s(stages: dict) -> int:
    """The stages' own seconds: a stage taken from its record (--reuse) counts what it took when it ran."""
    return round(sum(record["seconds"] for record in stages.values()))


def install_loadable(trained: Path, out: Path) -> None:
    """Copy the loadable files (no checkpoints, no optimizer state) into the package."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in LOADABLE_FILES:
        if (trained / name).is_file():
            shutil.copy2(trained / name, out / name)
