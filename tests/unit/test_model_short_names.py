"""Short names for --model: every preset's own, the size alone for its Instruct bf16 checkpoint, and the closest
ones suggested for a typo (in the one-line error the loader raises, before anything is downloaded)."""

from __future__ import annotations

import pytest

from vreason.errors import ModelLoadError
from vreason.models.loader import resolve_source
from vreason.models.presets import PRESETS, find_preset, short_names, suggest_names


def test_the_size_alone_names_the_instruct_bf16_checkpoint():
    assert resolve_source("qwen3-vl-8b") == "Qwen/Qwen3-VL-8B-Instruct"
    assert resolve_source("Qwen3-VL-30B-A3B") == "Qwen/Qwen3-VL-30B-A3B-Instruct"
    assert find_preset("qwen3-vl-8b-thinking-fp8").hub_id == "Qwen/Qwen3-VL-8B-Thinking-FP8"
    names = short_names()
    assert len(names) == len(set(names)) == len(PRESETS) + len({p.size for p in PRESETS})


@pytest.mark.parametrize(("typo", "first"), [
    ("qwen3-vl-8bb", "qwen3-vl-8b"),
    ("qwen3-vl-8b-thinkng", "qwen3-vl-8b-thinking"),
    ("qwen3vl-2b", "qwen3-vl-2b"),
])
def test_a_typo_gets_the_closest_short_name_first(typo, first):
    assert suggest_names(typo)[0] == first
    with pytest.raises(ModelLoadError, match=f"did you mean {first}[ ?]"):
        resolve_source(typo)


def test_no_suggestion_for_a_name_like_no_preset():
    assert suggest_names("zebra") == []
    with pytest.raises(ModelLoadError) as err:
        resolve_source("zebra")
    assert "did you mean" not in str(err.value)
    assert "`vreason models` lists the short names" in str(err.value)
