"""When the native model code serves a checkpoint, and loading it: the native half of models/loader.py.

Contract: `native_wanted(spec, source)` says whether to try it: the caller asked for it (`LoadSpec.native`, set
by the serving path), no adapter or quantization (those need transformers' modules), a local checkpoint
directory (a hub id not yet downloaded goes through transformers), and `VREASON_MODEL_CODE` is not
`transformers` (the switch back, for comparisons and as a way out). `load_native` then returns the model,
processor and placement, or None with the reason logged when the checkpoint is one the native code does not
compute exactly (models/native/config.py, model.py) or whose tokenizer it does not reproduce
(models/native/tokenizer.py): the loader then takes transformers' code, so nothing a user can load stops
loading. Imports torch (GC paused, models/model_code.py), safetensors, tokenizers and jinja2; never transformers.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from vreason.errors import ModelLoadError
from vreason.models.model_code import import_model_code
from vreason.models.native.config import UnsupportedNative, read_config
from vreason.models.placement import Placement, choose_placement, decoder_dims, float32_bytes
from vreason.models.quantize import read_plan

logger = logging.getLogger("vreason.models")


class _Spec(Protocol):
    device: str
    dtype: str
    quantize: str | None
    adapter: str | None
    native: bool


class _Clock(Protocol):
    def mark(self, name: str) -> None: ...


@dataclass
class NativeParts:
    model: Any  # models/native/model.py NativeQwen3VL
    processor: Any  # models/native/processor.py NativeProcessor
    placement: Placement


MODEL_CODE_SETTINGS = ("auto", "transformers")


def native_wanted(spec: _Spec, source: str) -> bool:
    setting = os.environ.get("VREASON_MODEL_CODE", "auto") or "auto"
    if setting not in MODEL_CODE_SETTINGS:
        raise ModelLoadError(f"VREASON_MODEL_CODE={setting!r}: use auto (the default) or transformers")
    if setting == "transformers":
        return False
    if not spec.native or spec.adapter or spec.quantize:
        return False
    return Path(source).is_dir() and read_plan(source) is None


def load_native(spec: _Spec, source: str, clock: _Clock) -> NativeParts | None:
    try:
        config = read_config(source)
    except UnsupportedNative as why:
        logger.info("%s: transformers' model code (not the native one: %s)", source, why)
        return None
    from vreason.models.native.tokenizer import TokenizerPrefetch

    tokenizer = TokenizerPrefetch(source)  # parsed in a thread while torch imports (tokenizer.py says why)
    import_model_code(("torch",))
    clock.mark("import torch")
    import torch

    from vreason.models.native.model import NativeQwen3VL
    from vreason.models.native.processor import NativeProcessor

    placement = choose_placement(spec.device, spec.dtype, float32_bytes(source, config), decoder_dims(config))
    if placement.device == "cuda" and torch.cuda.device_count() > 1:
        logger.info("%s: transformers' model code (spread over %d GPUs)", source, torch.cuda.device_count())
        return None
    try:
        processor = NativeProcessor.from_pretrained(source, tokenizer)
        clock.mark("processor")
        model = NativeQwen3VL.from_pretrained(source, placement.dtype, placement.device)
        clock.mark("weights")
    except (UnsupportedNative, ModelLoadError, OSError, ValueError) as why:
        # transformers' code then loads it, or says in its own words why it cannot
        logger.info("%s: transformers' model code (not the native one: %s)", source, why)
        return None
    return NativeParts(model, processor, placement)
