"""transformers' own model and processor for a checkpoint an engine serves: what the oracle tests compare the
engine against. An engine serves with vreason's own Qwen3-VL code by default (models/native), which has no
`generate` and whose processor does not make model inputs; its transformers twin loads the same checkpoint
directory in the same dtype through transformers' classes, once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def transformers_twin(loaded: Any) -> Any:
    """`loaded` itself when transformers' code serves it, else the same checkpoint loaded through transformers."""
    if loaded.model_code == "transformers":
        return loaded
    return _load(loaded.source, loaded.placement.dtype_name)


@lru_cache(maxsize=4)
def _load(source: str, dtype: str) -> Any:
    from vreason.models.loader import LoadSpec, load_model

    twin = load_model(LoadSpec(model=source, dtype=dtype))
    assert twin.model_code == "transformers"
    return twin
