"""The demo recipe's stages can be reused: every stage leaves a record (result, seconds, machine) beside its
output; with --reuse a recorded stage is not run again (no second warm-up, no data written for it), later
stages start from its output, and the summary keeps each stage's own seconds and machine."""

from __future__ import annotations

import json
import shutil

import pytest

from vreason.train.demo_recipe import RecipeConfig, build
from vreason.train.demo_stages import STAGE_RECORD
from vreason.train.demo_v2 import V2Config

pytestmark = pytest.mark.slow


def test_reuse_skips_recorded_stages_and_trains_from_their_output(compact_model_dir, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    shutil.copytree(compact_model_dir, work / "warm")
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


def test_the_second_stage_runs_alone_from_a_checkpoint_run_after_run(compact_model_dir, tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    v2 = V2Config(varied_scenes=2, plain_scenes=2, clips=1, easy_vqa=False, steps=(1, 2), learning_rates=(1e-4, 5e-5),
                  train_vision=(False, True), batch_size=2)
    summary = build(RecipeConfig(out=out, work=work, evaluate=False, v2=v2, from_model=compact_model_dir))
    assert [r["steps"] for r in summary["v2"]["runs"]] == [1, 2]
    assert [r["train_vision"] for r in summary["v2"]["runs"]] == [False, True]
    assert [r["clip_questions"] for r in summary["v2"]["runs"]] == ["grouped", "grouped"]
    assert set(summary["stages"]) == {"v2-data", "v2-1", "v2-2"}
    assert not (work / "warm").exists()  # nothing of the first stage ran
    assert (out / "model.safetensors").read_bytes() == (work / "v2-2" / "model.safetensors").read_bytes()
    # with --reuse, every recorded run is kept and nothing trains again
    again = build(RecipeConfig(out=out, work=work, evaluate=False, v2=v2, from_model=compact_model_dir, reuse=True))
    assert again["stages"] == summary["stages"]
    # a run recorded before clip questions were grouped keeps saying it trained them as conversations
    record_file = work / "v2-1" / STAGE_RECORD
    record = json.loads(record_file.read_text())
    del record["clip_questions"]
    record_file.write_text(json.dumps(record))
    older = build(RecipeConfig(out=out, work=work, evaluate=False, v2=v2, from_model=compact_model_dir, reuse=True))
    assert [r["clip_questions"] for r in older["v2"]["runs"]] == ["conversation", "grouped"]


def test_follow_up_runs_train_on_their_mixes_after_the_second_stage(compact_model_dir, tmp_path, monkeypatch):
    from vreason.train import demo_v2_mixes
    from vreason.train.demo_chain import FollowUp
    from vreason.train.demo_v2_mixes import Mix
    from vreason.train.grow import Growth

    monkeypatch.setitem(demo_v2_mixes.MIXES, "count", Mix("count-weighted", 3, ("all",), {"clip": 1, "picture": 1}))
    monkeypatch.setitem(demo_v2_mixes.MIXES, "count-focus", Mix("count", 2, ("count",), {"any": 2}))
    work, out = tmp_path / "work", tmp_path / "out"
    v2 = V2Config(varied_scenes=2, plain_scenes=2, clips=1, easy_vqa=False, steps=(1,), learning_rates=(1e-4,),
                  train_vision=(True,), batch_size=2,
                  follow_ups=(FollowUp("count", 1, 1e-4),
                              FollowUp("count-focus", 3, 5e-5, stop_after=2, grow=Growth(1, 1))))
    summary = build(RecipeConfig(out=out, work=work, evaluate=False, v2=v2, from_model=compact_model_dir))
    assert set(summary["stages"]) == {"v2-data", "v2-1", "v2-mix-count", "v2-2", "v2-mix-count-focus", "v2-3-grown",
                                      "v2-3"}
    follow = summary["v2"]["follow_ups"]
    assert [(r["mix"], r["steps"], r["planned_steps"]) for r in follow] == [("count", 1, 1), ("count-focus", 2, 3)]
    assert [r.get("grow") for r in follow] == [None, {"text_layers": 1, "vision_blocks": 1}]
    assert (out / "model.safetensors").read_bytes() == (work / "v2-3" / "model.safetensors").read_bytes()
    last = json.loads((work / "v2-3" / "finetune_result.json").read_text())["config"]
    assert last["model"] == str(work / "v2-3-grown")  # the run before it, grown by a layer and a block
    grown, before = (json.loads((work / name / "config.json").read_text()) for name in ("v2-3", "v2-2"))
    assert grown["text_config"]["num_hidden_layers"] == before["text_config"]["num_hidden_layers"] + 1
    assert grown["vision_config"]["depth"] == before["vision_config"]["depth"] + 1
    assert last["train_data"] == str(work / "v2-data" / "mix_count-focus.jsonl")
    assert (work / "v2-data" / "mixes" / "count-focus" / "stage.json").is_file()


def test_follow_ups_alone_train_from_the_base_on_the_second_stage_data(compact_model_dir, tmp_path, monkeypatch):
    from vreason.train import demo_v2_mixes
    from vreason.train.demo_chain import FollowUp
    from vreason.train.demo_v2_mixes import Mix

    monkeypatch.setitem(demo_v2_mixes.MIXES, "count", Mix("count-weighted", 3, ("all",), {"clip": 1, "picture": 1}))
    work, out = tmp_path / "work", tmp_path / "out"
    v2 = V2Config(varied_scenes=2, plain_scenes=2, clips=1, easy_vqa=False, steps=(), learning_rates=(),
                  train_vision=(), batch_size=2, follow_ups=(FollowUp("count", 1, 1e-4),))
    summary = build(RecipeConfig(out=out, work=work, evaluate=False, v2=v2, from_model=compact_model_dir))
    assert set(summary["stages"]) == {"v2-data", "v2-mix-count", "v2-1"}
    assert summary["v2"]["runs"] == []
    first = json.loads((work / "v2-1" / "finetune_result.json").read_text())["config"]
    assert first["model"] == str(compact_model_dir)
    assert (out / "model.safetensors").read_bytes() == (work / "v2-1" / "model.safetensors").read_bytes()
