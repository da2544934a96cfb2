"""What checkpoints are already on disk in the Hugging Face cache, for `vreason models --cached`.

Reads the cache directory only (`huggingface_hub.scan_cache_dir`): no network, no hub call. Lists model repos
(not datasets or spaces), with the preset short name when there is one and the `model_type` from the newest
snapshot's config.json, so a cached repo vreason cannot load (another architecture) says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vreason.models.presets import find_preset


@dataclass(frozen=True)
class CachedModel:
    hub_id: str
    short_name: str | None  # the preset's short name, None for repos that are not presets
    size_bytes: int  # blobs on disk, shared between revisions counted once
    files: int
    model_type: str | None  # from config.json; None when the snapshot has no readable config.json
    has_safetensors: bool  # vreason loads safetensors only
    path: str

    def to_dict(self) -> dict[str, object]:
        return dict(vars(self))


def cache_dir() -> str:
    """The hub cache this process reads (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def cached_models(directory: str | Path | None = None) -> list[CachedModel]:
    """Model repos in the hub cache, largest first; an empty list when the cache does not exist yet."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(directory or cache_dir())
    except CacheNotFound:
        return []
    out = []
    for repo in info.repos:
        if repo.repo_type != "model":
            continue
        newest = max(repo.revisions, key=lambda r: r.last_modified, default=None)
        files = {f.file_name for f in newest.files} if newest else set()
        preset = find_preset(repo.repo_id)
        out.append(CachedModel(
            hub_id=repo.repo_id,
            short_name=preset.alias or preset.name if preset else None,
            size_bytes=repo.size_on_disk,
            files=repo.nb_files,
            model_type=_model_type(newest.snapshot_path) if newest else None,
            has_safetensors=any(name.endswith(".safetensors") for name in files),
            path=str(repo.repo_path),
        ))
    return sorted(out, key=lambda m: (-m.size_bytes, m.hub_id))


def _model_type(snapshot: Path) -> str | None:
    try:
        return json.loads((snapshot / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, AttributeError):
        return None
