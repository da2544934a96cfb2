"""One evaluation, start to finish: predict (resumably), score, write metrics.json and report.md.

    from vreason import VReason
    from vreason.eval import evaluate, load_dataset
    summary = evaluate(VReason(), load_dataset("easy-vqa:test"), Path("runs/easy-vqa"))
    summary.metrics["exact_match"]

`aevaluate` is the same over an `AsyncVReason` (`await aevaluate(vr.aio, ...)`); `evaluate` is its blocking form.
`vreason eval` is this function behind a command line; `rescore` redoes the scoring and the report from a
directory's predictions.jsonl alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError
from vreason.eval.report import write_report
from vreason.eval.runner import PREDICTIONS, RUN_INFO, RunOptions, arun_predictions
from vreason.scoring.items import EvalItem
from vreason.scoring.records import PredictionRecord, ScoreResult, read_records
from vreason.scoring.scorers import score_qa
from vreason.tasks import get_task

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason
    from vreason.tasks.base import TaskPack

METRICS = "metrics.json"


@dataclass
class EvalSummary:
    out: Path
    metrics: dict[str, Any]  # what metrics.json holds
    records: list[PredictionRecord]
    report: Path
    seconds: float  # this invocation's wall time (a resumed run counts only the items it predicted)


async def aevaluate(vr: AsyncVReason, items: Sequence[EvalItem], out: Path, *, task: TaskPack | None = None,
                    data: str = "", options: RunOptions | None = None) -> EvalSummary:
    started = time.perf_counter()
    records = await arun_predictions(vr, items, out, task=task, data=data, options=options)
    seconds = time.perf_counter() - started
    header = {"model": vr.model_name, "data": data or "(items)", "task": task.name if task else "question answering",
              "items": len(records), "wall time of this run": f"{seconds:.1f} s"}
    # scoring and drawing the plots are CPU work: off the event loop, which may be serving others
    return await asyncio.to_thread(_summarise, out, records, task, header, seconds)


def evaluate(vr: VReason, items: Sequence[EvalItem], out: Path, *, task: TaskPack | None = None, data: str = "",
             options: RunOptions | None = None) -> EvalSummary:
    return vr.run(aevaluate(vr.aio, items, out, task=task, data=data, options=options))


def _summarise(out: Path, records: list[PredictionRecord], task: TaskPack | None, header: dict[str, Any],
               seconds: float) -> EvalSummary:
    result = score(records, task)
    report = _write(out, records, result, task, header)
    return EvalSummary(out, result.metrics, records, report, seconds)


def rescore(out: Path, task: TaskPack | None = None) -> EvalSummary:
    """Metrics and report again from `out/predictions.jsonl` (after a metric changed, or an interrupted run)."""
    records = read_records(out / PREDICTIONS)
    if not records:
        raise InvalidRequestError(f"{out} has no {PREDICTIONS} to score; run `vreason eval` first")
    info_path = out / RUN_INFO
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    if task is None and info.get("task"):
        task = get_task(info["task"], info.get("config"))
    result = score(records, task)
    report = _write(out, records, result, task, {k: v for k, v in info.items() if v} | {"items": len(records)})
    return EvalSummary(out, result.metrics, records, report, 0.0)


def score(records: Sequence[PredictionRecord], task: TaskPack | None) -> ScoreResult:
    return task.score(records) if task else score_qa(records)


def _write(out: Path, records: Sequence[PredictionRecord], result: ScoreResult, task: TaskPack | None,
           header: dict[str, Any]) -> Path:
    (out / METRICS).write_text(json.dumps(result.metrics, indent=1, ensure_ascii=False), encoding="utf-8")
    title = f"Evaluation: {task.title}" if task else "Evaluation: question answering"
    return write_report(out, records, result, title=title, header=header, limits=task.limits if task else None)
