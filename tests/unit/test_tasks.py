"""Task packs without a model: prompts, JSON reading, config files, scoring by hand, generated sample data."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from vreason.errors import InvalidRequestError
from vreason.eval.datasets import EvalItem, load_dataset
from vreason.reasoning.json_output import StructuredOutputError, close_truncated, parse_json_object
from vreason.scoring.records import LabeledBox, PredictionRecord
from vreason.tasks import get_task, task_names
from vreason.tasks.structured import add_pixel_boxes, find_boxes


def rec(pid: str, parsed: dict | None, target: dict, boxes=None, pred_boxes=(), kind="all") -> PredictionRecord:
    return PredictionRecord(id=pid, kind=kind, images=[], prompt="", prediction="", target=target, parsed=parsed,
                            parse_error=None if parsed is not None else "unreadable", boxes=boxes,
                            pred_boxes=list(pred_boxes), schema_valid=None if parsed is None else True)


def test_registry_lists_the_packs_and_names_the_choices_on_a_typo():
    assert task_names() == ["medical", "inspection", "education-math", "education-essay"]
    with pytest.raises(InvalidRequestError, match="unknown task 'inspect'; available: medical, inspection"):
        get_task("inspect")


@pytest.mark.parametrize("name", ["medical", "inspection", "education-math", "education-essay"])
def test_every_pack_has_a_valid_schema_a_prompt_and_limits(name):
    pack = get_task(name)
    jsonschema.Draft202012Validator.check_schema(pack.schema)
    assert json.loads(pack.output_format().schema) == pack.schema
    messages = pack.messages(EvalItem(id="1", images=["x.png"], question="", fields={"text": "an essay"}))
    assert [m.role for m in messages] == ["system", "user"]
    assert "JSON only" in messages[1].text
    assert "real model" in pack.limits


# --- reading the model's JSON --------------------------------------------------------------------------------


def test_parse_json_object_tolerates_fences_prose_thinking_and_cut_off_answers():
    assert parse_json_object('Sure! ```json\n{"a": 1}\n``` done') == ({"a": 1}, False)
    assert parse_json_object('<think>{"no": 1}</think> {"a": "x}"} trailing') == ({"a": "x}"}, False)
    cut = '{"defect": true, "defects": [{"type": "dent", "bbox_2d": [1, 2, 3, 4]}, {"type": "de'
    assert parse_json_object(cut) == ({"defect": True, "defects": [{"type": "dent", "bbox_2d": [1, 2, 3, 4]}]}, True)
    assert close_truncated('{"s": "a \\" quote, still in the string') is None
    with pytest.raises(StructuredOutputError, match="holds no JSON object; the model answered 'red'"):
        parse_json_object("red")
    with pytest.raises(StructuredOutputError, match="JSON does not parse"):
        parse_json_object('{"a": tru')


def test_boxes_are_found_anywhere_and_mapped_to_pixels():
    parsed = {"findings": [{"label": "nodule", "bbox_2d": [100, 200, 300, 400]}, {"label": "x", "bbox_2d": [1, 2]}]}
    assert [(d.label, d.box) for d in find_boxes(parsed)] == [("nodule", (100, 200, 300, 400))]
    mapped = add_pixel_boxes(parsed, (500, 250))
    assert mapped["findings"][0]["box_pixels"] == [50.0, 50.0, 150.0, 100.0]
    assert "box_pixels" not in mapped["findings"][1]


def test_inspection_reading_is_lenient_and_checks_the_schema():
    pack = get_task("inspection")
    reading = pack.read('{"defects": [{"type": "Scratch", "bbox_2d": [900, 10, 100, 50]}]}')
    assert reading.value == {"defect": True, "defects": [{"type": "scratch", "bbox_2d": [100, 10, 900, 50]}]}
    assert any("'defect' is a required property" in p for p in reading.schema_problems)
    good = pack.read('{"defect": false, "defects": []}')
    assert good.value == {"defect": False, "defects": []}
    assert good.schema_problems == []
    with pytest.raises(StructuredOutputError, match="neither 'defect' nor 'defects'"):
        pack.read('{"colour": "red"}')


def test_medical_answers_always_carry_the_decision_support_notice():
    pack = get_task("medical")
    reading = pack.read('{"findings": [{"label": "nodule", "bbox_2d": [1, 2, 30, 40], "confidence": "sure"}], '
                        '"impression": "one small nodule"}')
    assert reading.value["notice"].startswith("Decision support only, not a diagnosis")
    assert reading.value["findings"][0]["confidence"] == "low"  # unknown confidence read as the lowest
    with pytest.raises(StructuredOutputError, match="no 'findings' list"):
        pack.read('{"impression": "fine"}')


def test_math_and_essay_reading():
    math = get_task("education-math")
    assert math.read('{"correct": "no", "first_wrong_step": "step 2"}').value["first_wrong_step"] == 2
    assert math.read('{"correct": true, "first_wrong_step": 3}').value["first_wrong_step"] is None
    assert math.read('{"first_wrong_step": null}').value["correct"] is True
    essay = get_task("education-essay")
    value = essay.read('{"criteria": [{"name": "content", "score": 9, "note": "x"}, '
                       '{"name": "language", "score": "2", "note": "拼写错误"}]}').value
    assert value["criteria"][0]["score"] == 4  # clamped to the criterion's points
    assert value["score"] == 6  # no total given: the sum of the criteria
    assert essay.read('{"score": 14, "criteria": []}').value["score"] == 10


# --- configuration files -------------------------------------------------------------------------------------


def test_a_custom_taxonomy_changes_prompt_schema_and_confusion_rows(tmp_path):
    path = tmp_path / "pcb.yaml"
    path.write_text("name: pcb\npart: a printed circuit board\ndefects:\n"
                    "  - {name: missing-part, description: an empty pad}\n  - {name: bridge, description: solder "
                    "joining two pads}\n", encoding="utf-8")
    pack = get_task("inspection", path)
    assert pack.config == str(path.resolve())  # recorded in run.json, so --rescore rebuilds the same pack
    assert get_task("inspection").config is None
    assert pack.schema["properties"]["defects"]["items"]["properties"]["type"]["enum"] == ["missing-part", "bridge"]
    prompt = pack.prompt(EvalItem(id="1", images=[], question=""))
    assert "a printed circuit board" in prompt
    assert "- bridge: solder joining two pads" in prompt
    answer = {"defect": True, "defects": [{"type": "bridge"}]}
    result = pack.score([rec("1", answer, {"defect": True, "type": "bridge"})])
    assert result.confusion.rows == ["none", "missing-part", "bridge"]


@pytest.mark.parametrize(("text", "message"), [
    ("defects: []", "non-empty 'defects' list"),
    ("defects:\n  - {name: none}", "not 'none'"),
    ("defects:\n  - {name: Dent}", "lower case"),
    ("defects:\n  - {name: dent}\n  - {name: dent}", "appears twice"),
    ("defects: [", "not valid YAML"),
])
def test_bad_taxonomies_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidRequestError, match=message):
        get_task("inspection", path)


def test_a_rubric_must_add_up_to_ten(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("criteria:\n  - {name: content, points: 6}\n  - {name: style, points: 3}\n", encoding="utf-8")
    with pytest.raises(InvalidRequestError, match="must sum to 10 \\(they sum to 9\\)"):
        get_task("education-essay", path)


def test_missing_template_fields_are_named():
    pack = get_task("inspection")
    broken = type(pack)(**{**pack.__dict__, "user_template": "Part {part} on line {line}"})
    with pytest.raises(InvalidRequestError, match="needs the field\\(s\\) line"):
        broken.prompt(EvalItem(id="1", images=[], question=""))


def test_essay_text_goes_into_the_prompt_and_photos_are_pointed_at_otherwise():
    pack = get_task("education-essay")
    typed = pack.prompt(EvalItem(id="1", images=[], question="", fields={"text": "我喜欢秋天. Autumn is great.",
                                                                          "topic": "Seasons"}))
    assert "我喜欢秋天. Autumn is great." in typed
    assert "Essay topic: Seasons" in typed
    photo = pack.prompt(EvalItem(id="1", images=["p1.png"], question=""))
    assert "The essay is in the photo(s)" in photo


# --- scoring by hand ------------------------------------------------------------------------------------------


def test_inspection_scores_false_positive_rate_miss_rate_and_confusion():
    good, dent = {"defect": False, "type": None}, {"defect": True, "type": "dent"}
    box = [LabeledBox([10, 10, 30, 30], "dent")]
    records = [
        rec("g1", {"defect": False, "defects": []}, good, boxes=[]),
        rec("g2", {"defect": True, "defects": [{"type": "stain"}]}, good, boxes=[],
            pred_boxes=[LabeledBox([0, 0, 5, 5], "stain")]),
        rec("d1", {"defect": True, "defects": [{"type": "dent"}]}, dent, boxes=box, pred_boxes=box),
        rec("d2", {"defect": True, "defects": [{"type": "scratch"}]}, dent, boxes=box),
        rec("d3", None, dent, boxes=box),
    ]
    result = get_task("inspection").score(records)
    metrics = result.metrics
    assert metrics["count"] == 5
    assert metrics["parse_failures"] == 1
    assert metrics["parse_rate"] == 0.8
    assert metrics["accuracy"] == pytest.approx(3 / 5)  # g1, d1, d2 (a defect was flagged)
    assert metrics["false_positive_rate"] == 0.5  # g2
    assert metrics["miss_rate"] == pytest.approx(1 / 3)  # d3 unreadable
    assert metrics["type_accuracy"] == pytest.approx(2 / 5)  # g1, d1
    assert metrics["per_class"]["dent"] == {"precision": 1.0, "recall": pytest.approx(1 / 3),
                                            "false_positive_rate": 0.0, "support": 3}
    assert metrics["box_f1"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 2))  # 1 TP, 1 FP (g2), 2 FN (d2, d3)
    assert result.correct == [True, False, True, False, False]
    assert result.confusion.columns == ["none", "scratch", "dent", "stain", "(other)"]
    assert result.confusion.counts[2] == [0, 1, 1, 0, 1]  # dent row: scratch, dent, unparsed


def test_medical_scores_finding_agreement_and_localisation():
    nodule = [LabeledBox([10, 10, 20, 20], "nodule")]
    records = [
        rec("n", {"findings": []}, {"findings": []}, boxes=[]),
        rec("a", {"findings": [{"label": "nodule"}]}, {"findings": ["nodule"]}, boxes=nodule, pred_boxes=nodule),
        rec("b", {"findings": [{"label": "mass"}]}, {"findings": ["nodule"]}, boxes=nodule,
            pred_boxes=[LabeledBox([11, 10, 21, 20], "mass")]),  # IoU 90/110: localised, wrong label
        rec("c", {"findings": []}, {"findings": ["calcification"]}, boxes=[LabeledBox([5, 5, 7, 7], "calcification")]),
    ]
    metrics = get_task("medical").score(records).metrics
    assert metrics["finding_agreement"] == 0.5
    assert metrics["localisation_f1"] == pytest.approx(2 * 2 / (2 * 2 + 0 + 1))  # matched regardless of label
    assert metrics["localisation_recall"] == pytest.approx(2 / 3)
    assert metrics["false_positive_rate"] == 0.0
    assert metrics["miss_rate"] == pytest.approx(1 / 3)
    assert metrics["per_class"]["nodule"]["recall"] == 0.5
    assert metrics["per_class"]["mass"]["false_positive_rate"] == 0.25  # 1 of the 4 scans without a mass


def test_math_scores_verdicts_and_first_wrong_step():
    records = [
        rec("1", {"correct": True, "first_wrong_step": None}, {"correct": True, "first_wrong_step": None}),
        rec("2", {"correct": False, "first_wrong_step": 2}, {"correct": True, "first_wrong_step": None}),
        rec("3", {"correct": False, "first_wrong_step": 2}, {"correct": False, "first_wrong_step": 2}),
        rec("4", {"correct": False, "first_wrong_step": 1}, {"correct": False, "first_wrong_step": 2}),
        rec("5", {"correct": True, "first_wrong_step": None}, {"correct": False, "first_wrong_step": 1}),
    ]
    metrics = get_task("education-math").score(records).metrics
    assert metrics["verdict_accuracy"] == pytest.approx(3 / 5)
    assert metrics["false_positive_rate"] == 0.5  # right work marked wrong
    assert metrics["miss_rate"] == pytest.approx(1 / 3)  # wrong work passed
    assert metrics["first_wrong_step_accuracy"] == pytest.approx(1 / 3)
    assert metrics["per_class"]["incorrect"]["precision"] == pytest.approx(2 / 3)


def test_essay_scores_mae_within_one_and_criteria():
    target = {"score": 6, "criteria": {"content": 2, "organisation": 2, "language": 2}}
    records = [
        rec("1", {"score": 7.0, "criteria": [{"name": "content", "score": 4}]}, target),
        rec("2", {"score": 3.0, "criteria": [{"name": "content", "score": 2}]}, target),
        rec("3", None, target),
    ]
    result = get_task("education-essay").score(records)
    metrics = result.metrics
    assert metrics["score_mae"] == 2.0  # (1 + 3) / 2 over readable answers
    assert metrics["within_1"] == pytest.approx(1 / 3)
    assert metrics["exact_score"] == 0.0
    assert metrics["criteria_mae"] == {"content": 1.0}
    assert result.confusion.counts == [[0, 0, 0, 0], [1, 0, 1, 1], [0, 0, 0, 0]]


# --- generated sample data ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["medical", "inspection", "education-math", "education-essay"])
def test_sample_data_is_deterministic_and_readable_as_a_dataset(name, tmp_path):
    pack = get_task(name)
    first = pack.make_samples(tmp_path / "a", 8, 3)
    second = pack.make_samples(tmp_path / "b", 8, 3)
    assert first.read_text(encoding="utf-8") == second.read_text(encoding="utf-8")
    items = load_dataset(str(first))
    assert len(items) == 8
    assert all(item.target is not None for item in items)
    for item in items:
        pack.prompt(item)  # every template field is there
        for path in item.images:
            assert Path(path).exists()


def test_sample_boxes_lie_inside_their_images(tmp_path):
    from PIL import Image

    for name in ("medical", "inspection"):
        for item in load_dataset(str(get_task(name).make_samples(tmp_path / name, 8, 0))):
            width, height = Image.open(item.images[0]).size
            for gt in item.boxes or []:
                x1, y1, x2, y2 = gt.box
                assert 0 <= x1 < x2 <= width
                assert 0 <= y1 < y2 <= height
            assert (item.kind in ("none", "normal")) == (not item.boxes)


def test_planted_math_mistakes_are_where_the_target_says():
    import random

    from vreason.tasks.education.math_samples import PROBLEMS, work_lines

    def first_wrong(lines: list[str], answer: int) -> int | None:
        for number, line in enumerate(lines[:2], 1):
            left, result = line.split(") ", 1)[1].split(" = ")
            a, op, b = left.split()
            value = {"x": int(a) * int(b), "+": int(a) + int(b), "-": int(a) - int(b), "/": int(a) // int(b)}[op]
            if value != int(result):
                return number
        return None if int(lines[2].split(": ")[1]) == answer else 3

    rng = random.Random(0)
    for mistake in (None, 1, 2, 3):
        for problem, (a, b, c) in zip(PROBLEMS, ((4, 12, 7), (5, 9, 3), (36, 6, 2)), strict=True):
            lines, answer = work_lines(problem, a, b, c, mistake, rng)
            found = first_wrong(lines, answer)
            # a slip in step 1 carried into step 2 leaves step 2's own arithmetic right, so the final answer
            # differs from the right one: the first wrong line is still step 1
            assert found == mistake, (lines, answer)


def test_planted_essay_flaws_are_all_in_the_text():
    import random

    from vreason.tasks.education.essay_samples import OFF_TOPIC, TOPICS, compose

    flaws = {"off_topic": 2, "no_intro": True, "no_end": False, "one_block": True, "misspellings": 0}
    for seed in range(20):
        text, criteria = compose("My favourite season", flaws, False, random.Random(seed))
        assert sum(sentence in text for sentence in OFF_TOPIC) == 2
        assert TOPICS["My favourite season"]["intro"] not in text
        assert "\n" not in text
        assert criteria == {"content": 0, "organisation": 1, "language": 3}
    original = compose("My favourite season", {**flaws, "misspellings": 0}, False, random.Random(1))[0].split()
    misspelled = compose("My favourite season", {**flaws, "misspellings": 4}, False, random.Random(1))
    assert sum(a != b for a, b in zip(original, misspelled[0].split(), strict=True)) == 4
    assert misspelled[1]["language"] == 1


def test_essay_sample_scores_add_up(tmp_path):
    from vreason.tasks.education.essay_samples import write_samples

    rows = [json.loads(line) for line in write_samples(tmp_path, 16, 1).read_text(encoding="utf-8").splitlines()]
    for row in rows:
        criteria = row["target"]["criteria"]
        assert row["target"]["score"] == sum(criteria.values())
        assert 0 <= criteria["content"] <= 4
        assert 0 <= criteria["organisation"] <= 3
        assert 0 <= criteria["language"] <= 3
    assert {row["kind"] for row in rows} == {"en", "zh-en"}
    assert all(("text" in row) == (row["kind"] == "zh-en") for row in rows)
    assert any(any("\u4e00" <= ch <= "\u9fff" for ch in row.get("text", "")) for row in rows)
