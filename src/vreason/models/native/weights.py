"""A checkpoint's safetensors mapped onto the native model's parameter names, checked before a tensor is read.

Contract: `weight_layout(directory, expected)` returns, for every parameter name of `expected` (name -> shape),
the file and key holding it, plus "lm_head.weight" when the checkpoint stores one (a tied model may carry a
copy); it raises `UnsupportedNative` — before reading any tensor, so a checkpoint that falls back to
transformers' code is read once, not twice — for a weight missing, stored with another shape, or stored and not
used by the native model (an extra module: the native code does not compute that checkpoint). `read_weights`
then reads them in the serving dtype onto the device.

Which files: those `model.safetensors.index.json` names (transformers' rule for sharded checkpoints), else
`model.safetensors`, else every `*.safetensors` in the directory. Key names: transformers' (`model.visual.*`,
`model.language_model.*`, `lm_head.weight`), with or without the leading "model.".
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vreason.models.native.config import UnsupportedNative

_PREFIXES = (("model.visual.", "model.visual."), ("model.language_model.", "model.language_model."),
             ("visual.", "model.visual."), ("language_model.", "model.language_model."))
HEAD = "lm_head.weight"


def weight_layout(directory: Path, expected: dict[str, torch.Size]) -> dict[str, tuple[Path, str]]:
    from safetensors import safe_open

    layout: dict[str, tuple[Path, str]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for file in _files(directory):
        try:
            with safe_open(str(file), framework="pt", device="cpu") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    name = _rename(key)
                    if name is None or (name not in expected and name != HEAD):
                        raise UnsupportedNative(f"{file.name} holds {key}, which the native model has no place for")
                    layout[name] = (file, key)
                    shapes[name] = tuple(f.get_slice(key).get_shape())
        except UnsupportedNative:
            raise
        except Exception as err:  # noqa: BLE001 (safetensors raises its own error type for a damaged file)
            raise UnsupportedNative(f"cannot read {file}: {err}") from None
    missing = sorted(set(expected) - set(layout))
    if missing:
        raise UnsupportedNative(f"{len(missing)} weights missing or named otherwise, e.g. {missing[0]}")
    wrong = next((n for n, shape in expected.items() if shapes[n] != tuple(shape)), None)
    if wrong is not None:
        raise UnsupportedNative(f"weight {wrong} has shape {shapes[wrong]}, not {tuple(expected[wrong])}")
    return layout


def read_weights(layout: dict[str, tuple[Path, str]], dtype: torch.dtype, device: str) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    state: dict[str, torch.Tensor] = {}
    by_file: dict[Path, list[tuple[str, str]]] = {}
    for name, (file, key) in layout.items():
        by_file.setdefault(file, []).append((name, key))
    for file, names in by_file.items():
        with safe_open(str(file), framework="pt", device="cpu") as f:
            for name, key in names:
                tensor = f.get_tensor(key)
                state[name] = tensor.to(device=device, dtype=dtype) if tensor.is_floating_point() else tensor
    return state


def _files(directory: Path) -> list[Path]:
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as err:
            raise UnsupportedNative(f"{index}: {err}") from None
        return [directory / shard for shard in shards]
    single = directory / "model.safetensors"
    if single.is_file():
        return [single]
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise UnsupportedNative(f"no *.safetensors in {directory}")
    return files


def _rename(key: str) -> str | None:
    if key == HEAD:
        return key
    for prefix, target in _PREFIXES:
        if key.startswith(prefix):
            return target + key[len(prefix):]
    return None
