"""Continuing the built-in model's follow-up chain (train/demo_continue.py): the settings and seeds it takes from
the shipped summary, which mixes it writes, and what installing a run records. Training itself is the recipe's
`finetune` (tested elsewhere); here a run folder is made by hand."""

from __future__ import annotations

import json
import shutil

import pytest

from vreason.train import demo_continue
from vreason.train.demo_chain import FollowUp
from vreason.train.demo_stages import STAGE_RECORD
from vreason.train.demo_v2_mixes import MIXES, mix_folder
from vreason.train.grow import Growth

SUMMARY = json.loads((demo_continue.SHIPPED / "training_summary.json").read_text())


def test_the_recorded_second_stage_settings_are_read_back_as_numbers():
    config = demo_continue.recorded_config(SUMMARY)
    recorded = SUMMARY["v2"]["config"]
    assert config.varied_scenes == int(recorded["varied_scenes"])
    assert config.clips == int(recorded["clips"])
    assert config.seed == int(recorded["seed"])
    assert config.steps == ()
    assert config.follow_ups == ()


def test_mixes_get_the_seed_of_their_first_place_in_the_chain_as_the_recipe_gives():
    chain = demo_continue.shipped_chain(SUMMARY)
    assert [f.mix for f in chain] == [f["mix"] for f in SUMMARY["v2"]["follow_ups"]]
    config = demo_continue.recorded_config(SUMMARY)
    new = FollowUp("count", 100, 1e-4)  # a mix met again later in the chain keeps its first seed
    seeds = demo_continue.mix_seeds((*chain, new), config)
    assert seeds["count"] == config.seed + 10
    first: dict[str, int] = {}
    for place, follow_up in enumerate(chain):
        first.setdefault(follow_up.mix, place)
    assert {mix: seeds[mix] for mix in first} == {mix: config.seed + 10 + place for mix, place in first.items()}
    assert len(first) < len(chain)  # the shipped chain trains one mix twice (run 52 is run 50's mix again)


def test_only_the_mixes_the_new_runs_sample_are_wanted():
    wanted = demo_continue.sampled_mixes((FollowUp("scans3d-plain", 100, 1e-4),))
    assert wanted == {"scans3d-plain", "scans3d"}  # scans3d-plain samples scans3d, which samples all_train only


def test_a_bad_follow_up_spec_is_one_clear_line():
    with pytest.raises(SystemExit, match="expected MIX:STEPS:LR"):
        demo_continue.parse_follow_up("moves:300")
    with pytest.raises(SystemExit, match="unknown mix"):
        demo_continue.parse_follow_up("nope:300:1e-4")


# a mix the shipped chain has not trained on (its stage record is the one install writes), whose sources it has
FRESH = [name for name in MIXES if f"v2-mix-{name}" not in SUMMARY["stages"]
         and all(source == "all" or f"v2-mix-{source}" in SUMMARY["stages"] for source in MIXES[name].sources)][-1]


def _fake_run(tmp_path, chain_index: int, mix: str = FRESH):
    work = tmp_path / "work"
    run = work / f"v2-{chain_index + 1}"
    run.mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "optimizer.pt").write_text("not shipped")
    record = {"result": {"steps": 300, "train_loss": 0.37, "total_params": 17}, "seconds": 1700.0,
              "machine": "2-core CPU (no GPU)",
              "mix": mix, "chain_index": chain_index, "base": "shipped", "seed": 20 + chain_index,
              "learning_rate": 1e-4, "planned_steps": 300}
    (run / "stage.json").write_text(json.dumps(record))
    mixed = mix_folder(work / "v2-data", mix)
    mixed.mkdir(parents=True)
    (mixed / "stage.json").write_text(json.dumps({"result": "mix.jsonl", "seconds": 41.0, "machine": "m",
                                                  "seed": 10 + 20 + chain_index}))
    return work, run


def _shipped_summary_copy(tmp_path):
    """A model folder holding only the shipped summary: what install appends to."""
    out = tmp_path / "model"
    out.mkdir()
    shutil.copy(demo_continue.SHIPPED / "training_summary.json", out / "training_summary.json")
    return out


def test_install_appends_the_run_and_its_mix_to_the_summary_and_copies_only_loadable_files(tmp_path):
    out = _shipped_summary_copy(tmp_path)
    k = len(SUMMARY["v2"]["follow_ups"])
    work, run = _fake_run(tmp_path, k)
    metrics = SUMMARY["metrics"]
    summary = demo_continue.install(run, metrics, "A section", out, work)
    assert len(summary["v2"]["follow_ups"]) == k + 1
    assert summary["v2"]["follow_ups"][-1] == {"mix": FRESH, "steps": 300, "planned_steps": 300,
                                               "learning_rate": 1e-4, "train_loss": 0.37}
    assert summary["stages"][f"v2-{k + 1}"]["seconds"] == 1700.0
    assert summary["stages"][f"v2-mix-{FRESH}"]["seconds"] == 41.0
    assert "A section" in summary["stages"][f"v2-{k + 1}"]["note"]
    # the stages' seconds summed, then rounded (the shipped total is itself rounded, so not that plus 1,741)
    assert summary["wall_s"] == round(sum(record["seconds"] for record in SUMMARY["stages"].values()) + 1741.0)
    assert summary["params"] == 17  # the run's own count: a grown run has more than the recipe built
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "training_summary.json"]
    assert FRESH in (out / "README.md").read_text()
    assert json.loads((out / "training_summary.json").read_text()) == summary


def test_install_refuses_a_run_that_does_not_follow_the_shipped_chain(tmp_path):
    out = _shipped_summary_copy(tmp_path)
    k = len(SUMMARY["v2"]["follow_ups"])
    _, run = _fake_run(tmp_path, k + 1)
    with pytest.raises(ValueError, match="install the runs in order"):
        demo_continue.install(run, {}, "s", out)
    assert json.loads((out / "training_summary.json").read_text()) == SUMMARY, "nothing written"


def test_a_run_folder_left_by_another_follow_up_is_refused_before_anything_is_written(tmp_path):
    shipped = len(SUMMARY["v2"]["follow_ups"])
    work = tmp_path / "work"
    taken = work / f"v2-{shipped + 1}"
    taken.mkdir(parents=True)
    other = SUMMARY["v2"]["follow_ups"][-1]["mix"]  # trained again after an install, say: not the run asked for
    (taken / STAGE_RECORD).write_text(json.dumps({"mix": other, "chain_index": shipped}))
    with pytest.raises(demo_continue.RunFolderTaken, match=f"holds follow-up {shipped + 1} on mix '{other}'"):
        demo_continue.train((FollowUp(FRESH, 300, 1e-4),), work)
    assert sorted(p.name for p in work.iterdir()) == [taken.name]  # no data drawn, nothing trained
    with pytest.raises(SystemExit, match="move the folder away or pass another --work"):
        demo_continue.main(["train", f"{FRESH}:300:1e-4", "--work", str(work)])


def test_a_run_folder_planned_for_the_same_follow_up_is_taken_up_again(tmp_path):
    facts = {"mix": FRESH, "chain_index": 30, "base": "b", "seed": 50, "learning_rate": 1e-4, "planned_steps": 300}
    (tmp_path / demo_continue.PLAN).write_text(json.dumps(facts))
    demo_continue.check_run_folder(tmp_path, facts)  # an interrupted run goes on
    demo_continue.check_run_folder(tmp_path / "new", facts)  # a folder not made yet is free
    with pytest.raises(demo_continue.RunFolderTaken):
        demo_continue.check_run_folder(tmp_path, {**facts, "planned_steps": 150})


def test_a_run_from_a_grown_model_installs_with_its_growth_in_the_chain_the_card_and_the_command(tmp_path):
    out = _shipped_summary_copy(tmp_path)
    k = len(SUMMARY["v2"]["follow_ups"])
    work, run = _fake_run(tmp_path, k)
    record = json.loads((run / STAGE_RECORD).read_text())
    (run / STAGE_RECORD).write_text(json.dumps({**record, "grow": {"text_layers": 1, "vision_blocks": 2}}))
    with pytest.raises(ValueError, match="-grown/stage.json is missing"):
        demo_continue.install(run, SUMMARY["metrics"], "A section", out, work)
    grown = demo_continue.grown_folder(run)
    assert grown == work / f"v2-{k + 1}-grown"
    grown.mkdir()
    (grown / STAGE_RECORD).write_text(json.dumps({"result": str(grown), "seconds": 7.0, "machine": "m",
                                                  "text_layers": 1, "vision_blocks": 2}))
    summary = demo_continue.install(run, SUMMARY["metrics"], "A section", out, work)
    assert summary["v2"]["follow_ups"][-1]["grow"] == {"text_layers": 1, "vision_blocks": 2}
    assert summary["stages"][f"v2-{k + 1}-grown"]["seconds"] == 7.0
    assert "1 text layer and 2 vision blocks" in summary["stages"][f"v2-{k + 1}-grown"]["note"]
    chain = demo_continue.shipped_chain(summary)
    assert chain[-1] == FollowUp(FRESH, 300, 1e-4, grow=Growth(1, 2))
    assert all(f.grow is None for f in chain[:-1])
    card = (out / "README.md").read_text()
    layers = SUMMARY_LAYERS["text"] + 1
    assert f"{layers} layers" in card
    assert f"Vision: depth {SUMMARY_LAYERS['vision'] + 2}," in card
    assert f"Grown by 1 text layer and 2 vision blocks before follow-up {k + 1}" in card
    assert f" {FRESH}:300:0.0001:grow=1/2" in card


def _shipped_layers() -> dict[str, int]:
    config = json.loads((demo_continue.SHIPPED / "config.json").read_text())
    return {"text": config["text_config"]["num_hidden_layers"], "vision": config["vision_config"]["depth"]}


SUMMARY_LAYERS = _shipped_layers()


def test_the_card_states_the_shipped_models_own_layers():
    from vreason.train.demo_card import model_card

    card = model_card(SUMMARY)
    assert f"{SUMMARY_LAYERS['text']} layers" in card
    assert f"Vision: depth {SUMMARY_LAYERS['vision']}," in card


def test_a_growing_follow_up_is_planned_with_its_growth(tmp_path):
    facts = {"mix": FRESH, "chain_index": 30, "base": "b", "seed": 50, "learning_rate": 1e-4, "planned_steps": 300,
             **FollowUp(FRESH, 300, 1e-4, grow=Growth(1, 2)).record()}
    (tmp_path / demo_continue.PLAN).write_text(json.dumps(facts))
    demo_continue.check_run_folder(tmp_path, facts)
    plain = {key: value for key, value in facts.items() if key != "grow"}
    with pytest.raises(demo_continue.RunFolderTaken):  # the same run without the growth is another run
        demo_continue.check_run_folder(tmp_path, plain)
