"""The built-in demo model: what every command uses when no --model is given.

A tiny Qwen3-VL-architecture checkpoint trained by `vreason.train.demo_recipe` ships inside the package
(vreason/assets/demo-model, with its model card). It knows simple shapes and the easy-VQA world, nothing
else; every surface shows `demo_notice()` once so nobody mistakes it for a real model.
"""

from __future__ import annotations

import json
from functools import lru_cache
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


def is_demo_family(source: str | Path) -> bool:
    """The built-in model, or a checkpoint trained from it (a `vreason finetune` output, a recipe run, an
    OpenVINO export): a local folder whose tokenizer is the built-in's own. That tokenizer (a few hundred
    shapes-world tokens) is what makes such a model read only the question forms it was trained on, so surfaces
    that choose how to ask (memory's facts) decide by it rather than by the model's name."""
    tokenizer = Path(source) / "tokenizer.json"
    if not tokenizer.is_file():
        return False
    try:
        return _vocabulary(tokenizer) == _vocabulary(SHIPPED_DIR / "tokenizer.json")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # not a tokenizers file we can read
        return False


def _vocabulary(path: Path) -> tuple:
    stat = path.stat()
    if stat.st_size > 1 << 20:  # a real tokenizer is megabytes (not read); the demo's is ~27 KB
        return ("large",)
    return _read_vocabulary(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _read_vocabulary(path: str, mtime_ns: int, size: int) -> tuple:  # keyed by the file's state: rewritten, read again
    model = json.loads(Path(path).read_text(encoding="utf-8"))["model"]
    # merges are written as "a b" or as ["a", "b"] depending on the tokenizers version that saved the file
    merges = tuple(m if isinstance(m, str) else " ".join(m) for m in model.get("merges", ()))
    return model.get("type"), tuple(sorted(model["vocab"].items())), merges


def demo_notice() -> str:
    return (
        "Using the built-in demo model (tiny, knows only simple shapes and colours; see its model card); "
        f"{REAL_MODEL_HINT}."
    )
