"""The demo model's card is rendered from its training summary: the shipped card matches the shipped summary,
and every bar of the issue is marked met or not met from the measured numbers."""

from __future__ import annotations

import copy
import json
from importlib import resources

from vreason.train.demo_recipe import model_card


def _shipped() -> tuple[dict, str]:
    folder = resources.files("vreason.assets").joinpath("demo-model")
    summary = json.loads(folder.joinpath("training_summary.json").read_text())
    return summary, folder.joinpath("README.md").read_text()


def test_shipped_card_is_rendered_from_the_shipped_summary():
    summary, card = _shipped()
    assert model_card(summary) == card


def test_bars_follow_the_numbers():
    summary, _ = _shipped()
    summary = copy.deepcopy(summary)
    summary["metrics"]["position"]["exact_match"] = 0.95
    summary["metrics"]["count"]["exact_match"] = 0.5
    lines = {line.split("|")[1].strip(): line for line in model_card(summary).splitlines() if line.startswith("| ")}
    assert lines["position"].endswith("exact_match >= 0.9: met |")
    assert lines["count"].endswith("exact_match >= 0.9: not met |")
    assert "0.950" in lines["position"]


def test_a_second_run_is_described_only_when_there_was_one():
    summary, _ = _shipped()
    summary = copy.deepcopy(summary)
    summary["settle"] = None
    assert "more steps from there" not in model_card(summary)
    summary["settle"] = {"steps": 700, "train_loss": 0.4321}
    summary["config"]["settle_learning_rate"] = "0.0003"
    assert "700 more steps from there at lr 0.0003" in model_card(summary)
    assert "0.4321" in model_card(summary)
