"""The demo recipe's stages can be reused: every stage leaves a record (result, seconds, machine) beside its
output; with --reuse a recorded stage is not run again (no second warm-up, no data written for it), later
stages start from its output, and the summary keeps each stage's own seconds and machine."""

from __future__ import annotations

import json
import shutil

import pytest

from vreason.train.demo_recipe import STAGE_RECORD, RecipeConfig, build

pytestmark = pytest.mark.slow


def test_reuse_skips_recorded_stages_and_trains_from_their_output(tiny_model_dir, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    shutil.copytree(tiny_model_dir, work / "warm")
    warm = {"steps": 7, "first_loss": 3.0, "final_loss": 0.5, "object_accuracy": {"shape": 0.25},
            "token_accuracy": {"shape": 0.5}, "background_accuracy": {}, "seconds": 9.0}
    (work / "warm" / STAGE_RECORD).write_text(json.dumps({"result": warm, "seconds": 600, "machine": "elsewhere"}))
    config = RecipeConfig(out=out, work=work, scenes=8, epochs=0.0005, batch_size=4, settle_steps=(1,),
                          reuse=True, evaluate=False, eval_answers=0, eval_fraction=0.0005)
    summary = build(config)
    assert summary["warmup"] == {"steps": 7, "object_accuracy": {"shape": 0.25}, "token_accuracy": {"shape": 0.5}}
    assert summary["stages"]["warmup"] == {"seconds": 600, "machine": "elsewhere"}
    assert set(summary["stages"]) == {"warmup", "data", "train", "settle-data-1", "settle-1"}
    assert summary["steps"] >= 1
    assert summary["settle"][0]["steps"] == 1
    assert (out / "model.safetensors").is_file()
    assert (out / "training_summary.json").is_file()
    assert not (out / "README.md").exists()  # no card without measured numbers
    assert not (work / "scratch").exists()  # the warm-up was not run again
    # once more with a second settling run: everything recorded is kept, only the new run trains
    rows = (work / "data" / "all_train.jsonl").read_text()
    first_settle = (work / "settled-1" / "model.safetensors").read_bytes()
    again = build(RecipeConfig(**{**config.__dict__, "settle_steps": (1, 2)}))
    assert (work / "data" / "all_train.jsonl").read_text() == rows
    assert (work / "settled-1" / "model.safetensors").read_bytes() == first_settle
    assert again["stages"]["train"] == summary["stages"]["train"]
    assert [r["steps"] for r in again["settle"]] == [1, 2]
    assert (out / "model.safetensors").read_bytes() == (work / "settled-2" / "model.safetensors").read_bytes()
