"""`vreason eval` and `vreason task run` end to end on the shipped demo model: predictions, metrics.json,
report.md with non-empty plots, resuming, task packs on their generated sample data."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.cli_in_process import run_vreason
from vreason.cli.app import app
from vreason.errors import InvalidRequestError
from vreason.eval import RunOptions, aevaluate, evaluate, load_dataset, rescore
from vreason.eval.runner import PREDICTIONS, apredict_batch, arun_predictions, sampling_for
from vreason.scoring.items import EvalItem
from vreason.tasks import get_task

PLOTS = ("accuracy_by_type.png", "confusion_matrix.png", "latency_histogram.png", "examples_right.png",
         "examples_wrong.png")
QUIET = RunOptions(progress=False, batch_size=4)


@pytest.fixture(scope="module")
def demo():
    from vreason import VReason

    return VReason()


@pytest.fixture(scope="module")
def qa_file(tmp_path_factory) -> Path:
    """Six easy-VQA test questions, two grounding questions with pixel boxes, one question with a wrong answer key,
    one row whose image is missing."""
    import easy_vqa

    from vreason.train.shapes_world import ShapesWorld

    root = tmp_path_factory.mktemp("qa")
    questions, answers, image_ids = easy_vqa.get_test_questions()
    paths = easy_vqa.get_test_image_paths()
    rows = [{"id": f"e{k}", "image": paths[image_ids[k]], "question": questions[k], "answer": answers[k]}
            for k in range(6)]
    world = ShapesWorld(seed=77)
    for k in range(2):
        scene = world.scene("grounding")
        qa = next(q for q in scene.qas if q.answer.count("bbox_2d") == 1)
        label = json.loads(qa.answer)[0]["label"]
        shape = next(s for s in scene.shapes if s.name == label)
        scene.image.save(root / f"g{k}.png")
        rows.append({"id": f"g{k}", "image": f"g{k}.png", "question": qa.question, "answer": qa.answer,
                     "kind": "grounding", "boxes": [{"bbox": list(shape.box), "label": label}]})
    # an answer key no answer matches: the report's wrong-answers grid has something to show whatever the model
    rows.append({"id": "w0", "image": paths[image_ids[6]], "question": questions[6], "answer": "a wrong key"})
    rows.append({"id": "missing", "image": "nowhere.png", "question": "what color?", "answer": "red"})
    path = root / "qa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def assert_plots_written(out: Path, names=PLOTS) -> None:
    report = (out / "report.md").read_text(encoding="utf-8")
    for name in names:
        path = out / name
        assert f"]({name})" in report
        assert path.stat().st_size > 2000, name
        with Image.open(path) as image:
            low, high = image.convert("L").getextrema()
            assert high - low > 50, f"{name} is blank"


def test_eval_on_a_small_jsonl_writes_predictions_metrics_and_report(demo, qa_file, tmp_path):
    out = tmp_path / "run"
    items = load_dataset(str(qa_file))
    summary = evaluate(demo, items, out, data=str(qa_file), options=QUIET)

    lines = (out / PREDICTIONS).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [i.id for i in items]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == summary.metrics
    assert metrics["count"] == 10
    assert metrics["errors"] == 1  # the missing image is a record with an error, not a crashed run
    # The demo model answers easy-VQA colour and shape questions well: most of the six are right.
    assert 5 / 10 <= metrics["exact_match"] <= 0.8  # w0 and the missing picture are always wrong
    assert not next(r for r in summary.records if r.id == "w0").failed  # a wrong answer is not an error
    assert 0.0 <= metrics["anls"] <= 1.0
    assert {"box_f1", "mean_iou", "box_precision", "box_recall"} <= metrics.keys()
    assert metrics["gt_boxes"] == 2
    assert metrics["by_type"]["grounding"]["count"] == 2
    missing = next(r for r in summary.records if r.id == "missing")
    assert missing.error.startswith("image ")
    grounded = [r for r in summary.records if r.kind == "grounding"]
    assert all(r.pred_boxes for r in grounded)  # the demo answers in Qwen's box format, mapped to pixels
    for record in grounded:  # boxes on the picture's own pixels (the scenes are 64 to 256 pixels wide)
        width, height = Image.open(qa_file.parent / f"{record.id}.png").size
        for box in record.pred_boxes:
            x1, y1, x2, y2 = box.box
            assert 0 <= x1 <= x2 <= width
            assert 0 <= y1 <= y2 <= height
    assert_plots_written(out)


def test_eval_resumes_skipping_finished_ids_and_repairs_a_torn_line(demo, qa_file, tmp_path):
    out = tmp_path / "resume"
    items = load_dataset(str(qa_file), limit=4)
    evaluate(demo, items[:2], out, data=str(qa_file), options=QUIET)
    path = out / PREDICTIONS
    first_two = path.read_text(encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "e2", "kind": "co')  # a run killed mid-write
    summary = evaluate(demo, items, out, data=str(qa_file), options=QUIET)
    text = path.read_text(encoding="utf-8")
    assert text.startswith(first_two)  # finished records are kept as they were, not predicted again
    assert [json.loads(line)["id"] for line in text.splitlines()] == ["e0", "e1", "e2", "e3"]
    assert summary.metrics["count"] == 4
    again = evaluate(demo, items, out, data=str(qa_file), options=QUIET)
    assert path.read_text(encoding="utf-8") == text
    assert again.metrics == summary.metrics
    assert rescore(out).metrics == summary.metrics

    with pytest.raises(InvalidRequestError, match="holds predictions for data .* --fresh to start over"):
        evaluate(demo, items, out, data="other.jsonl", options=QUIET)
    fresh = evaluate(demo, items[:1], out, data="other.jsonl", options=RunOptions(progress=False, fresh=True))
    assert fresh.metrics["count"] == 1
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_the_async_run_is_the_same_run_and_leaves_the_event_loop_free(demo, qa_file, tmp_path):
    items = load_dataset(str(qa_file), limit=4)
    sync = evaluate(demo, items, tmp_path / "sync", data=str(qa_file), options=QUIET)

    async def run() -> tuple:
        ticks = 0

        async def tick() -> None:  # other work on the same loop keeps running while the batches are predicted
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.001)

        ticker = asyncio.create_task(tick())
        first = await arun_predictions(demo.aio, items[:2], tmp_path / "async", data=str(qa_file), options=QUIET)
        summary = await aevaluate(demo.aio, items, tmp_path / "async", data=str(qa_file), options=QUIET)
        ticker.cancel()
        return first, summary, ticks

    first, summary, ticks = asyncio.run(run())
    assert [r.id for r in first] == ["e0", "e1"]
    assert ticks > 10
    assert (tmp_path / "async" / "run.json").read_text() == (tmp_path / "sync" / "run.json").read_text()
    # resumed after two items, greedy: the same predictions and metrics as the one blocking run
    assert [r.prediction for r in summary.records] == [r.prediction for r in sync.records]
    assert summary.metrics == sync.metrics


def test_a_request_the_engine_refuses_spoils_only_its_own_record(demo, qa_file):
    good = load_dataset(str(qa_file), limit=2)
    huge = EvalItem(id="huge", images=good[0].images, question="word " * 200_000, answers=["red"])
    records = asyncio.run(apredict_batch(demo.aio, [good[0], huge, good[1]], None, sampling_for(None, QUIET)))
    assert [r.id for r in records] == ["e0", "huge", "e1"]
    assert "context" in records[1].error  # refused from the cheap bound, before a full tokenization
    assert records[1].prediction == ""
    assert all(r.error is None and r.prediction for r in (records[0], records[2]))


@pytest.mark.parametrize(("name", "keys"), [
    ("inspection", {"false_positive_rate", "miss_rate", "type_accuracy", "box_f1", "per_class"}),
    ("medical", {"localisation_f1", "finding_agreement", "mean_iou", "per_class"}),
    ("education-math", {"verdict_accuracy", "false_positive_rate", "miss_rate", "first_wrong_step_accuracy"}),
    ("education-essay", {"score_mae", "within_1", "exact_score", "criteria_mae"}),
])
def test_task_packs_evaluate_end_to_end_on_their_sample_data(demo, tmp_path, name, keys):
    pack = get_task(name)
    data = pack.make_samples(tmp_path / "samples", 2, 0)
    summary = evaluate(demo, load_dataset(str(data)), tmp_path / "out", task=pack, data=str(data),
                       options=RunOptions(progress=False, max_new_tokens=12))
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["count"] == 2
    assert keys <= metrics.keys()
    assert metrics["errors"] == 0
    assert metrics["parse_failures"] + round(metrics["parse_rate"] * 2) == 2
    # An answer cut off at 12 tokens counts as truncated and never as schema-valid.
    assert metrics["truncated"] == sum(r.finish_reason == "length" for r in summary.records)
    assert all(not r.schema_valid for r in summary.records if r.finish_reason == "length")
    for r in summary.records:
        assert (r.parsed is None) == (r.parse_error is not None)
        if name == "medical" and r.parsed is not None:
            assert r.parsed["notice"].startswith("Decision support only")
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "## Limits" in report
    assert "real model" in report
    assert_plots_written(tmp_path / "out", ("accuracy_by_type.png", "confusion_matrix.png"))


def test_cli_eval_prints_metrics_json(qa_file, tmp_path):
    out = tmp_path / "cli"
    result = run_vreason("eval", "--data", str(qa_file), "--out", str(out), "--limit", "2", "--json", "--no-progress")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["count"] == 2
    assert 0.0 <= metrics["exact_match"] <= 1.0
    assert (out / "report.md").exists()


def test_cli_eval_needs_data_or_a_task(tmp_path):
    result = CliRunner().invoke(app, ["eval", "--out", str(tmp_path)])
    assert isinstance(result.exception, InvalidRequestError)
    assert str(result.exception) == "give --data FILE (or easy-vqa:test), or --task NAME to use its sample data"


def test_cli_task_run_on_a_generated_sample(tmp_path):
    data = get_task("inspection").make_samples(tmp_path, 2, 0)
    images = [str(tmp_path / json.loads(line)["image"]) for line in data.read_text().splitlines()]
    result = CliRunner().invoke(app, ["task", "run", "inspection", *images, "--max-new-tokens", "24"])
    assert result.exit_code == 0, result.output
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["images"] for o in outputs] == [[images[0]], [images[1]]]
    for output in outputs:
        # Constrained decoding keeps even the tiny demo model's answer in the schema; cut off by
        # --max-new-tokens, it is read back to its last complete value, and the output says so.
        assert isinstance(output["result"]["defect"], bool)
        assert output["warning"].startswith("the answer was cut off by max_new_tokens")
        for defect in output["result"]["defects"]:
            x1, y1, x2, y2 = defect["box_pixels"]
            assert 0 <= x1 <= x2 <= 320
            assert 0 <= y1 <= y2 <= 240
    wrong = CliRunner().invoke(app, ["task", "run", "education-math", images[0], "--config", "x.yaml"])
    assert isinstance(wrong.exception, InvalidRequestError)
    assert "takes no --config" in str(wrong.exception)
