"""The README's memory example as an install gate (train/memory_example.py, `demo_continue install`): the built-in
model gives the README's answers to every new user; a demo-kind model that answers otherwise, or a model that is
not the demo's kind, is refused in one line before anything is installed."""

from __future__ import annotations

import json
import shutil

import pytest
from safetensors.torch import load_file, save_file

from vreason.models.demo import SHIPPED_DIR
from vreason.train import demo_continue
from vreason.train.memory_example import QUESTIONS, misses, trials

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broken_demo(tmp_path_factory):
    """The built-in model with its final norm negated: the demo's tokenizer, answers that are not the README's."""
    folder = tmp_path_factory.mktemp("broken-demo")
    for item in SHIPPED_DIR.iterdir():
        shutil.copy(item, folder / item.name)
    weights = load_file(str(folder / "model.safetensors"))
    weights["model.language_model.norm.weight"] = -weights["model.language_model.norm.weight"]
    save_file(weights, str(folder / "model.safetensors"), metadata={"format": "pt"})
    summary = json.loads((SHIPPED_DIR / "training_summary.json").read_text())
    last = summary["v2"]["follow_ups"][-1]  # a mix the chain has (its record is in the summary already)
    (folder / "stage.json").write_text(json.dumps({
        "result": {"steps": 10, "train_loss": 9.9, "total_params": summary["params"]}, "seconds": 1.0,
        "machine": "test", "mix": last["mix"],
        "chain_index": len(summary["v2"]["follow_ups"]), "seed": 1, "learning_rate": 1e-4, "planned_steps": 10}))
    return folder


def test_the_built_in_model_answers_every_new_user_as_the_readme_says(memory_dir, tmp_path, monkeypatch):
    from vreason.memory import open_store

    shared = f"sqlite:///{tmp_path / 'shared.db'}"  # a user's configured store: the trials never write to it
    monkeypatch.setenv("VREASON_MEMORY_URL", shared)
    said = trials(3)
    assert {q: dict(t) for q, t in said.items()} == {q: {answer: 3} for q, answer in QUESTIONS.items()}
    assert misses(said) == []
    assert open_store(shared).stats("user0").items == 0
    demo_continue.check_memory_example(SHIPPED_DIR, 2)  # passes: no ValueError


def test_install_refuses_a_run_that_answers_otherwise_before_writing(broken_demo, tmp_path, memory_dir):
    said = trials(2, str(broken_demo))
    lines = misses(said)
    assert len(lines) == 2
    assert "0 of 2 as the README says" in lines[0]
    out = tmp_path / "model"
    out.mkdir()
    shutil.copy(SHIPPED_DIR / "training_summary.json", out / "training_summary.json")
    metrics = tmp_path / "metrics.json"
    metrics.write_text("{}")
    with pytest.raises(SystemExit, match="does not answer the README's memory example every time"):
        demo_continue.main(["install", str(broken_demo), "--metrics", str(metrics), "--section", "s",
                            "--out", str(out), "--memory-trials", "2"])
    assert sorted(p.name for p in out.iterdir()) == ["training_summary.json"]
    assert json.loads((out / "training_summary.json").read_text()) == json.loads(
        (SHIPPED_DIR / "training_summary.json").read_text())


def test_a_model_that_is_not_the_demos_kind_is_refused(tiny_model_dir):
    with pytest.raises(ValueError, match="not the built-in model's kind"):
        demo_continue.check_memory_example(tiny_model_dir, 1)
