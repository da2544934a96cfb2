"""The built-in demo model: what every command uses when no --model is given.

A tiny Qwen3-VL-architecture checkpoint trained by `vreason.train.demo_recipe` ships inside the package
(vreason/assets/demo-model, with its model card). It knows simple shapes and the easy-VQA world, nothing
else; every surface shows `demo_notice()` once so nobody mistakes it for a real model.
"""

from __future__ import annotations

from pathlib import Path

from vreason.errors import ModelLoadError

DEMO_MODEL_NAME = "vreason-demo"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo-model"
REAL_MODEL_HINT = "pass --model Qwen/Qwen3-VL-8B-Instruct (or a local checkpoint dir) for a real model"


def demo_is_trained() -> bool:
    return (SHIPPED_DIR / "model.safetensors").is_file()


def demo_model_dir() -> Path:
    if not demo_is_trained():
        raise ModelLoadError(
            f"the built-in demo model is missing from this install (expected in {SHIPPED_DIR}); reinstall "
            f"vreason, rebuild it with `make demo-model`, or {REAL_MODEL_HINT}"
        )
    return SHIPPED_DIR


def demo_notice() -> str:
    return (
        "Using the built-in demo model (tiny, knows only simple shapes and colours; see its model card); "
        f"{REAL_MODEL_HINT}."
    )
