"""The task packs by name: what `vreason task run NAME` and `vreason eval --task NAME` look up.

A pack registers a builder taking an optional config file (a taxonomy, a rubric), so one name serves the
shipped configuration and a user's own. Builders import lazily: listing packs loads no pack.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path

from vreason.errors import InvalidRequestError
from vreason.tasks.base import TaskPack

# name -> "module:builder"
BUILDERS = {
    "medical": "vreason.tasks.medical.pack:build",
    "inspection": "vreason.tasks.inspection.pack:build",
    "education-math": "vreason.tasks.education.math_check:build",
    "education-essay": "vreason.tasks.education.essay:build",
}


def task_names() -> list[str]:
    return list(BUILDERS)


def get_task(name: str, config: Path | str | None = None) -> TaskPack:
    """The pack `name`, configured by `config` (None: the pack's shipped configuration)."""
    if name not in BUILDERS:
        raise InvalidRequestError(f"unknown task {name!r}; available: {', '.join(BUILDERS)}", param="task")
    module, _, builder = BUILDERS[name].partition(":")
    pack = getattr(importlib.import_module(module), builder)(Path(config) if config else None)
    return replace(pack, config=str(Path(config).resolve())) if config else pack
