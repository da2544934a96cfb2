"""Where a hub checkpoint is loaded from: the local cache when it is complete there, else the hub when reachable.

A checkpoint whose files are all in the Hugging Face cache loads from its snapshot directory with no network
call (`hf download ID` refreshes it). Otherwise the hub is probed once, with one short request: when it answers,
the checkpoint is downloaded with one progress display (`hub_download`); when it cannot be reached (or
HF_HUB_OFFLINE=1) loading fails at once with one line naming the model, the cache directory and
what to do, instead of transformers' retries (11 lines over 28 s). Knows nothing of torch or transformers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from vreason.errors import ModelLoadError

log = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0  # one HEAD to the hub; a reachable hub answers in well under a second
# Besides the weights, the files loading needs: the architecture and the tokenizer (and its chat template).
REQUIRED_FILES = ("config.json", "tokenizer_config.json")
WEIGHTS_INDEX = "model.safetensors.index.json"


def locate_checkpoint(source: str) -> str:
    """What to load for `source` (a local directory or a hub id): a directory, or the hub id to download.

    Raises ModelLoadError when a hub id is not (fully) cached and cannot be downloaded.
    """
    if Path(source).is_dir():
        return source
    snapshot, missing = cached_snapshot(source)
    if snapshot is not None and not missing:
        log.debug("loading %s from the local cache %s", source, snapshot)
        return str(snapshot)
    from huggingface_hub import constants

    if _offline_mode():
        why, fix = "downloads are off (HF_HUB_OFFLINE=1)", "unset HF_HUB_OFFLINE to download it"
    elif not hub_reachable():
        why, fix = f"the Hugging Face hub ({constants.ENDPOINT}) could not be reached", "connect and retry"
    else:
        from vreason.models.hub_download import download_checkpoint

        return download_checkpoint(source)  # with one progress display; what is cached already is kept
    where = f"in the local cache ({constants.HF_HUB_CACHE})"
    if snapshot is not None:
        lacks = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        where = f"fully in the local cache ({snapshot} lacks {lacks})"
    raise ModelLoadError(
        f"model {source} is not {where} and {why}: {fix}, run `hf download {source}` on a connected machine "
        "and copy the cache (HF_HOME selects it), or pass --model /path/to/checkpoint-dir"
    )


def cached_snapshot(hub_id: str) -> tuple[Path | None, list[str]]:
    """(the cached snapshot directory of the main revision, the files loading needs that it lacks).

    (None, []) when nothing of `hub_id` is cached. Reads the cache only.
    """
    from huggingface_hub import try_to_load_from_cache

    try:
        config = try_to_load_from_cache(hub_id, "config.json")
    except ValueError:  # not a valid repo id
        return None, []
    if not isinstance(config, str):  # None (never fetched) or a marker that the hub has no such file
        return None, []
    snapshot = Path(config).parent
    return snapshot, _missing_files(snapshot)


def _missing_files(snapshot: Path) -> list[str]:
    # is_file() follows the cache's symlinks into blobs/, so a file whose blob is gone counts as missing.
    missing = [name for name in REQUIRED_FILES if not (snapshot / name).is_file()]
    index = snapshot / WEIGHTS_INDEX
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError):
            return [*missing, WEIGHTS_INDEX]
        return missing + [shard for shard in shards if not (snapshot / shard).is_file()]
    if not any(path.is_file() for path in snapshot.glob("*.safetensors")):
        missing.append("*.safetensors")
    return missing


def hub_reachable(timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """One HEAD request to the hub endpoint through huggingface_hub's own session (its proxies and
    certificates), without retries; any HTTP answer, even an error status, means reachable."""
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=timeout_s)
    # The session's HTTP library differs across huggingface_hub versions (requests, httpx, ...), and so do its
    # exception classes; whatever prevented an answer, the hub is not reachable from here.
    except Exception as err:
        log.debug("hub %s unreachable: %s", constants.ENDPOINT, err)
        return False
    return True


def _offline_mode() -> bool:
    from huggingface_hub import constants

    is_offline = getattr(constants, "is_offline_mode", None)  # a function since huggingface_hub 1.x
    return bool(is_offline() if callable(is_offline) else constants.HF_HUB_OFFLINE)
