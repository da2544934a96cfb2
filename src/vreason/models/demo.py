"""The built-in demo model: what every command uses when no --model is given.

The trained demo checkpoint ships inside the package (vreason/assets/demo-model). Until it is present
(a source checkout before `make demo-model`), an untrained model of the same architecture is built once
into the user cache so every path still runs end to end; its answers are random and every command
says so.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

DEMO_MODEL_NAME = "vreason-demo"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo-model"
REAL_MODEL_HINT = "pass --model Qwen/Qwen3-VL-8B-Instruct (or a local checkpoint dir) for a real model"


def cache_dir() -> Path:
    root = os.environ.get("VREASON_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vreason"
    )
    return Path(root)


def demo_model_dir() -> Path:
    if (SHIPPED_DIR / "config.json").is_file():
        return SHIPPED_DIR
    return untrained_demo_dir()


def demo_is_trained() -> bool:
    return (SHIPPED_DIR / "config.json").is_file()


def untrained_demo_dir() -> Path:
    from vreason.models.scratch import build_scratch_checkpoint

    target = cache_dir() / "untrained-demo-v1"
    if not (target / "model.safetensors").is_file():
        print("vreason: building an untrained demo model (one time, ~10 s) ...", file=sys.stderr)
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        build_scratch_checkpoint(tmp)
        if target.exists():  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.replace(target)
    return target


def demo_notice() -> str:
    if demo_is_trained():
        return f"Using the built-in demo model (tiny, trained on simple shapes); {REAL_MODEL_HINT}."
    return (
        "Using an UNTRAINED stand-in for the demo model (answers are random: the trained demo model is not "
        f"in this install); {REAL_MODEL_HINT}."
    )
