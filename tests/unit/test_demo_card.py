"""The demo model's card is rendered from its training summary: the shipped card matches the shipped summary,
and every bar of the issue is marked met or not met from the measured numbers."""

from __future__ import annotations

import copy
import json
from importlib import resources

from vreason.train.demo_card import model_card
from vreason.ui.model_card import quality_table

SCENES3D_TABLE = "3D scenes (`vreason.train.scenes3d_eval`)"


def _shipped() -> tuple[dict, str]:
    folder = resources.files("vreason.assets").joinpath("demo-model")
    summary = json.loads(folder.joinpath("training_summary.json").read_text())
    return summary, folder.joinpath("README.md").read_text()


def _first_stage() -> dict:
    """The shipped summary as a model of the first stage alone would have it (no second stage)."""
    summary = copy.deepcopy(_shipped()[0])
    summary.pop("v2", None)
    summary["stages"] = {k: v for k, v in summary["stages"].items() if not k.startswith("v2-")}
    return summary


def test_shipped_card_is_rendered_from_the_shipped_summary():
    summary, card = _shipped()
    assert model_card(summary) == card


def test_bars_follow_the_numbers():
    summary, _ = _shipped()
    summary = copy.deepcopy(summary)
    summary["metrics"]["position"]["exact_match"] = 0.95
    summary["metrics"]["count"]["exact_match"] = 0.5
    pictures = model_card(summary).split(SCENES3D_TABLE)[0]  # the 3D table has rows of the same names
    lines = {line.split("|")[1].strip(): line for line in pictures.splitlines() if line.startswith("| ")}
    assert lines["position"].endswith("exact_match >= 0.9: met |")
    assert lines["count"].endswith("exact_match >= 0.9: not met |")
    assert "0.950" in lines["position"]


def test_settling_runs_are_described_only_when_there_were_some():
    summary, _ = _shipped()
    summary = copy.deepcopy(summary)
    summary["settle"] = []
    assert "settling runs" not in model_card(summary)
    summary["settle"] = [{"steps": 700, "train_loss": 0.4321}, {"steps": 1200, "train_loss": 0.1234}]
    summary["config"]["settle_learning_rate"] = "0.0005"
    card = model_card(summary)
    assert "settling runs at lr 0.0005" in card
    assert "700 steps on seed 3 (mean train loss 0.4321), then 1,200 steps on seed 4 (mean train loss 0.1234)" in card


def test_wall_time_is_told_per_machine_and_a_gpu_run_gets_a_cpu_estimate():
    summary = _first_stage()
    summary["stages"] = {"warmup": {"seconds": 600, "machine": "2-core CPU (no GPU)"},
                         "train": {"seconds": 250, "machine": "GPU X"}, "settle-2": {"seconds": 30, "machine": "GPU X"}}
    summary["steps"], summary["settle"] = 1000, [{"steps": 500, "train_loss": 0.5}, {"steps": 300, "train_loss": 0.4}]
    summary["cpu_estimate"] = {"s_per_step": 2.0}
    card = model_card(summary)
    assert "on 2-core CPU (no GPU): vision warm-up 600 s; on GPU X: main run 250 s, settling run 2 30 s." in card
    assert "the same 1,800 fine-tuning steps take about 1.0 hours" in card
    del summary["cpu_estimate"]
    assert "fine-tuning steps take about" not in model_card(summary)


def test_a_second_stage_is_described_and_its_clip_and_varied_families_get_their_tables_and_bars():
    summary = _first_stage()
    assert "Then the second stage" not in model_card(summary)
    assert "This model had no second stage: it was never trained on clips." in model_card(summary)
    summary["v2"] = {"train_rows": 126057,
                     "runs": [{"steps": 600, "train_loss": 0.25, "learning_rate": 0.0002, "train_vision": False},
                              {"steps": 400, "train_loss": 0.125, "learning_rate": 0.0001, "train_vision": True,
                               "clip_questions": "grouped"}],
                     "config": {"varied_scenes": "12000", "plain_scenes": "4000", "clips": "6000", "batch_size": "32"}}
    summary["metrics"]["clip_move"] = {"count": 100, "exact_match": 0.93}
    summary["metrics"]["clip_when"] = {"count": 100, "exact_match": 0.61, "within_1s": 0.8}
    summary["metrics"]["varied/describe"] = {"count": 200, "exact_match": 0.7}
    card = model_card(summary)
    assert ("batches of 32 sequences, cosine schedules: 600 steps at lr 0.0002 (the vision tower frozen; each clip's "
            "questions as one conversation; mean train loss 0.2500), then 400 steps at lr 0.0001 (the vision tower "
            "trained too; each clip's questions one sequence, none seeing another's answer; mean train loss "
            "0.1250).") in card
    assert "6000 shapes-world clips" in card
    assert "126,057 rows" in card
    lines = {line.split("|")[1].strip(): line for line in card.splitlines() if line.startswith("| ")}
    assert lines["clip_move"].endswith("exact_match >= 0.9: met |")
    assert lines["clip_when"] == "| clip_when | 100 | 0.610 | 0.800 | within_1s >= 0.85: not met |"
    assert lines["varied/describe"].startswith("| varied/describe | 200 | 0.700 | - |")
    assert "short clips where such shapes appear" in card
    assert "never trained on clips" not in card


def test_a_model_made_of_follow_ups_alone_says_so():
    """`--v2-steps` with no value: the second stage's data is written and only the follow-ups train on mixes of it."""
    summary = copy.deepcopy(_shipped()[0])
    summary["v2"] = {"train_rows": 63376, "runs": [],
                     "follow_ups": [{"mix": "count", "steps": 400, "planned_steps": 400, "learning_rate": 0.0001,
                                     "train_loss": 1.14},
                                    {"mix": "count-plain", "steps": 200, "planned_steps": 200, "learning_rate": 5e-05,
                                     "train_loss": 0.54}],
                     "config": {"varied_scenes": "3000", "plain_scenes": "1000", "clips": "1500", "batch_size": "32"}}
    card = model_card(summary)
    assert "63,376 rows, batches of 32 sequences, no runs on it as a whole." in card
    assert "cosine schedules" not in card
    assert "Then 2 follow-up runs" in card
    assert "4,000 new plain scenes weighted to counting" in card
    args = ("--v2-steps --v2-varied-scenes 3000 --v2-plain-scenes 1000 --v2-clips 1500 "
            "--v2-follow-ups count:400:0.0001 count-plain:200:5e-05")
    assert f'`make demo-model DEMO_ARGS="--v2 {args}"`' in card
    assert f"`python -m vreason.train.demo_recipe --from-model DIR --out OUT {args}`" in card


def test_the_cards_commands_parse_to_the_second_stage_that_made_the_model():
    """The commands the shipped card gives are the recipe's own options, and they ask for what the summary says."""
    import re
    import shlex

    from vreason.train.demo_recipe import parser, v2_config

    summary, card = _shipped()
    assert summary.get("v2")  # the shipped model had a second stage
    make = re.search(r'`make demo-model DEMO_ARGS="([^"]+)"`', card).group(1)
    alone = re.search(r"`python -m vreason.train.demo_recipe (--from-model [^`]+)`", card).group(1)
    for argv in (shlex.split(make), shlex.split(alone)):
        v2 = v2_config(parser().parse_args(argv))
        config = summary["v2"]["config"]
        assert (str(v2.varied_scenes), str(v2.plain_scenes), str(v2.clips)) == (
            config["varied_scenes"], config["plain_scenes"], config["clips"])
        assert [r["steps"] for r in summary["v2"]["runs"]] == list(v2.steps)
        assert [(f.mix, f.steps, f.learning_rate) for f in v2.follow_ups] == [
            (r["mix"], r["planned_steps"], r["learning_rate"]) for r in summary["v2"]["follow_ups"]]


def test_stage_notes_and_second_stage_stages_are_told_in_the_wall_time_line():
    """A run adopted from an experiment script says so in the card, named as the follow-up run it was."""
    summary = copy.deepcopy(_shipped()[0])
    summary["v2"] = {"train_rows": 63376, "runs": [], "follow_ups": [
        {"mix": "count", "steps": 400, "planned_steps": 400, "learning_rate": 0.0001, "train_loss": 1.14}],
        "config": {"varied_scenes": "3000", "plain_scenes": "1000", "clips": "1500", "batch_size": "32"}}
    summary["stages"] = {"v2-data": {"seconds": 94, "machine": "2-core CPU (no GPU)"},
                         "v2-mix-count": {"seconds": 79, "machine": "2-core CPU (no GPU)"},
                         "v2-1": {"seconds": 3023, "machine": "2-core CPU (no GPU)", "note": "made by script r1."}}
    card = model_card(summary)
    assert ("on 2-core CPU (no GPU): second-stage data 94 s, data of mix count 79 s, follow-up run 1 3023 s.\n"
            "  - Follow-up run 1: made by script r1.") in card
    summary["v2"]["runs"] = [{"steps": 10, "train_loss": 1.0, "learning_rate": 1e-4, "train_vision": False}]
    assert "second-stage run 1 3023 s" in model_card(summary)


def test_a_second_stage_model_that_has_not_learned_clips_does_not_claim_them():
    summary = copy.deepcopy(_shipped()[0])
    summary["v2"] = {"train_rows": 63376, "runs": [], "follow_ups": [],
                     "config": {"varied_scenes": "3000", "plain_scenes": "1000", "clips": "1500", "batch_size": "32"}}
    for family in ("appear", "disappear", "count"):
        summary["metrics"][f"clip_{family}"] = {"count": 100, "exact_match": 0.12}
    summary["metrics"]["clip_move"] = {"count": 100, "exact_match": 0.04}
    summary["metrics"].pop("varied/describe", None)
    card = model_card(summary)
    assert "It does not understand\n  clips yet" in card
    assert "nor open questions" not in card  # describe was not measured here
    summary["metrics"]["varied/describe"] = {"count": 200, "exact_match": 0.015}
    assert 'nor open questions ("describe the image")' in model_card(summary)
    assert "short clips where such shapes appear" not in card
    summary["metrics"]["clip_appear"] = {"count": 100, "exact_match": 0.56}
    assert ("clips well yet (their table: what appears 56%, what disappears 12%, how many appear 12%, which way a "
            "shape moves 4%)") in " ".join(model_card(summary).split())
    summary["metrics"]["clip_move"]["exact_match"] = 0.93
    learned = " ".join(model_card(summary).split())
    assert "short clips where such shapes appear" in learned
    # learned in part: the families under their bars still named, and open questions still said apart
    assert "It understands clips only in part (their table: what appears 56%, what disappears 12%" in learned
    assert "which way a shape moves 93%" in learned
    assert 'It does not answer open questions ("describe the image") yet.' in learned
    summary["metrics"]["varied/describe"] |= {"list_form": 0.62, "same_shapes": 0.31}  # measured since qa_eval has it
    summary["metrics"].pop("independent/describe-reworded", None)
    measured = " ".join(model_card(summary).split())
    assert "does not answer open questions" not in measured
    assert ('Asked an open question in a wording it was trained on ("describe the image.", "what is in the image?") '
            "it answers with a list of shapes 62% of the time, every shape and colour in it right 31% (varied "
            "pictures).") in measured
    assert "Asked for its shapes" not in measured  # the reworded family was not measured here
    summary["metrics"]["independent/describe"] = {"count": 400, "exact_match": 0.4, "list_form": 1.0,
                                                  "same_shapes": 0.52}
    summary["metrics"]["independent/describe-reworded"] = {"count": 400, "exact_match": 0.2, "list_form": 0.67,
                                                           "same_shapes": 0.24, "number": 0.3}
    reworded = " ".join(model_card(summary).split())
    assert ('Asked for its shapes in eight wordings no training question uses ("Describe this picture.", "what shapes '
            'are there?", ...) it answers with a list 67% of the time, every shape in it right 24%, a bare number 30% '
            'of the time (independent pictures; 100% and 52% asked "what is in the image?").') in reworded
    assert "| independent/describe-reworded | 400 | 0.200 | - | - | - |" in model_card(summary)
    for family in ("appear", "disappear", "count"):
        summary["metrics"][f"clip_{family}"]["exact_match"] = 0.95
    summary["metrics"].pop("clip_when", None)
    summary["metrics"]["varied/describe"]["exact_match"] = 0.8
    every = " ".join(model_card(summary).split())
    assert "only in part" not in every
    assert "open questions" not in every
    # the reworded family is said however well the trained wordings go
    assert "it answers with a list 67% of the time" in every
    summary["metrics"].pop("independent/describe-reworded")
    assert "Asked for its shapes" not in model_card(summary)


def test_3d_scenes_get_one_table_with_both_generators_and_their_bars():
    summary = copy.deepcopy(_shipped()[0])
    assert SCENES3D_TABLE not in model_card({**summary, "metrics": {k: v for k, v in summary["metrics"].items()
                                                                 if not k.startswith("3d")}})
    summary["metrics"] = {k: v for k, v in summary["metrics"].items() if not k.startswith("3d")}
    summary["metrics"] |= {
        "3d/color": {"count": 70, "exact_match": 0.93},
        "3d-independent/color": {"count": 62, "exact_match": 0.85},
        "3d/count": {"count": 100, "exact_match": 0.84},
        "3d-independent/count": {"count": 100, "exact_match": 0.86},
        "3d/box3d": {"count": 250, "exact_match": 0.9, "iou_at_0.25": 0.9, "mean_iou": 0.8},
    }
    card = model_card(summary)
    lines = {line.split("|")[1].strip(): line for line in card.split(SCENES3D_TABLE)[1].splitlines()
             if line.startswith("| ")}
    assert lines["color"] == "| color | 0.930 (70) | 0.850 (62) | exact_match >= 0.9: met / not met |"
    assert lines["count"] == "| count | 0.840 (100) | 0.860 (100) | exact_match >= 0.85: not met / met |"
    assert lines["box3d"] == "| box3d | 0.900 (250) | - | iou_at_0.25 >= 0.8: met / - |"
    main_table = card.split(SCENES3D_TABLE)[0]
    assert "3d/" not in main_table  # not among the pictures' families
    # the UI banner still reads the pictures' colour row, not the 3D table's
    assert quality_table(card)["color"][1] == summary["metrics"]["color"]["exact_match"]


def test_a_recorded_follow_up_gives_back_the_spec_that_makes_it_again():
    """A follow-up stopped early and one started from a grown model: the card's spec parses to the same run."""
    from vreason.train.demo_chain import FollowUp
    from vreason.train.grow import Growth

    stopped = {"mix": "clips", "steps": 201, "planned_steps": 340, "learning_rate": 7e-05}
    grown = {"mix": "count", "steps": 300, "planned_steps": 300, "learning_rate": 0.0001,
             "grow": Growth(text_layers=1, vision_blocks=2).facts()}
    assert FollowUp.from_record(stopped).spec() == "clips:340:7e-05:201"
    assert FollowUp.from_record(grown).spec() == "count:300:0.0001:grow=1/2"
    for entry in (stopped, grown):
        again = FollowUp.parse(FollowUp.from_record(entry).spec())
        assert (again.mix, again.steps, again.learning_rate) == (entry["mix"], entry["planned_steps"],
                                                                 entry["learning_rate"])
        assert again.stop_after == (201 if entry is stopped else None)
        assert again.grow == (Growth(1, 2) if entry is grown else None)


def test_counts_of_a_colour_seen_twice_get_a_limits_line_where_they_were_measured():
    summary = copy.deepcopy(_shipped()[0])
    for key in ("independent/count", "count", "varied/count"):
        summary["metrics"].get(key, {}).pop("many_count", None)
    without = model_card(summary)
    assert "two or more times" not in without
    summary["metrics"]["independent/count"] |= {"exact_match": 0.8425, "many_count": 41, "many_exact_match": 0.439}
    summary["metrics"]["count"] |= {"exact_match": 0.911, "many_count": 120, "many_exact_match": 0.5}
    card = model_card(summary)
    limits = " ".join(card.split("## Limits")[1].split())
    assert ("it is right 44% on independent pictures (n 41), 50% on its own generator's held-out plain ones (n 120), "
            "against 84% and 91% over all the count questions of the same pictures.") in limits
    assert "held-out varied ones" not in limits  # not measured there
    assert card.split("## Limits")[1].count("\n- ") == without.split("## Limits")[1].count("\n- ") + 1
