from __future__ import annotations

import pytest

from vreason.engine.sampling import GREEDY, INSTRUCT_DEFAULTS, THINKING_DEFAULTS, SamplingParams, defaults_for
from vreason.errors import InvalidRequestError


def test_qwen_recommended_defaults():
    assert defaults_for(thinking=False) == INSTRUCT_DEFAULTS
    assert (INSTRUCT_DEFAULTS.temperature, INSTRUCT_DEFAULTS.top_p, INSTRUCT_DEFAULTS.top_k) == (0.7, 0.8, 20)
    assert INSTRUCT_DEFAULTS.presence_penalty == 1.5
    assert (THINKING_DEFAULTS.temperature, THINKING_DEFAULTS.top_p, THINKING_DEFAULTS.top_k) == (0.6, 0.95, 20)
    assert defaults_for(thinking=True) == THINKING_DEFAULTS
    assert GREEDY.greedy
    assert not INSTRUCT_DEFAULTS.greedy
    assert defaults_for(thinking=False, demo_family=True) == GREEDY  # the built-in model's card is measured so


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("temperature", -0.1, r"temperature \(-0.1\) must be between 0 and 2"),
        ("top_p", 0.0, r"top_p \(0.0\) must be in \(0, 1\]"),
        ("top_k", -1, r"top_k \(-1\) must be >= 0"),
        ("max_new_tokens", 0, r"max_new_tokens \(0\) must be >= 1"),
        ("presence_penalty", 3.0, r"presence_penalty \(3.0\) must be between -2 and 2"),
        ("repetition_penalty", 0.0, "repetition_penalty"),
        ("seed", -5, "seed"),
        ("stop", ("",), "non-empty strings"),
    ],
)
def test_out_of_range_values_name_the_value(field, value, message):
    with pytest.raises(InvalidRequestError, match=message) as info:
        SamplingParams(**{field: value})
    assert info.value.param == field


def test_updated_keeps_unset_and_rejects_unknown():
    params = INSTRUCT_DEFAULTS.updated(temperature=0.0, top_p=None, stop="END")
    assert params.temperature == 0.0
    assert params.top_p == 0.8
    assert params.stop == ("END",)
    with pytest.raises(InvalidRequestError, match="unknown sampling parameter.*temprature"):
        INSTRUCT_DEFAULTS.updated(temprature=0.5)
