"""`vreason eval --data memory:FILE`: the multi-session memory benchmark, run in each mode, scored and compared.

    from vreason.eval.memory_eval import evaluate_memory
    summary = evaluate_memory(VReason(), Path("runs/memory-data/memory.jsonl"), Path("runs/memory"))
    summary.table["memory"]["accuracy"], summary.table["none"]["accuracy"], summary.table["memory"]["recall_at_k"]

Modes (eval/memory_items.py): `memory` (a fresh SQLite store under OUT/store-memory, written as the sessions
happen, recall for each question, the recalled picture asked in the model's words), `product` (its own store,
written the same way, and the product's chat turn: `AsyncMemory.answer` puts the recalled notes and pictures
into the prompt with the user's own question, then the model answers and cites), `none` (no memory) and
`history` (every earlier turn in context). Each mode gets
OUT/MODE/predictions.jsonl, metrics.json and report.md (the harness's scoring and plots); OUT/memory.json and
OUT/report.md compare them: accuracy (exact match, by family), recall@k of a needed memory, and recall's
latency (p50/p99 of the store's recall call: what recall adds to a request). Not resumable: each run starts
from empty stores (a store's contents depend on the order of everything written before).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError
from vreason.eval.memory_file import MemoryData, read_memory_data
from vreason.eval.memory_items import MODES, RECALL_K, Outcome, replay
from vreason.eval.report import write_report
from vreason.eval.runner import PREDICTIONS, QA_MAX_NEW_TOKENS
from vreason.scoring.scorers import score_qa

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason

PREFIX = "memory:"
SUMMARY = "memory.json"


@dataclass
class MemorySummary:
    out: Path
    table: dict[str, dict[str, Any]]  # mode -> accuracy, by_family, recall_at_k, recall_ms_p50/p99, ...
    report: Path
    seconds: float


def memory_path(spec: str) -> Path:
    """`memory:FILE` -> FILE, checked."""
    path = Path(spec[len(PREFIX) :] if spec.startswith(PREFIX) else spec).expanduser()
    if not path.is_file():
        raise InvalidRequestError(f"memory data {path} is not a file (write one: python -m vreason.eval.memory_data)")
    return path.resolve()


async def aevaluate_memory(
    vr: AsyncVReason,
    data: Path | MemoryData,
    out: Path,
    *,
    modes: Sequence[str] = MODES,
    k: int = RECALL_K,
    max_new_tokens: int | None = None,
) -> MemorySummary:
    from vreason.eval.memory_backend import StoreBackend

    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise InvalidRequestError(f"memory mode {unknown[0]!r} is not one of {', '.join(MODES)}")
    data = data if isinstance(data, MemoryData) else read_memory_data(data)
    sampling = {"temperature": 0.0, "presence_penalty": 0.0, "max_new_tokens": max_new_tokens or QA_MAX_NEW_TOKENS}
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict[str, Any]] = {}
    for mode in modes:
        backend = None
        if mode in ("memory", "product"):
            shutil.rmtree(out / f"store-{mode}", ignore_errors=True)
            backend = StoreBackend(vr, out / f"store-{mode}")
        mode_started = time.perf_counter()
        try:
            outcomes = await replay(vr, data, mode, backend, sampling, k=k)
        finally:
            if backend is not None:
                backend.close()
        table[mode] = _score_mode(
            out / mode,
            mode,
            outcomes,
            k,
            time.perf_counter() - mode_started,
            header={"model": vr.model_name, "data": str(data.path), "mode": mode},
        )
    seconds = time.perf_counter() - started
    (out / SUMMARY).write_text(json.dumps(table, indent=1), encoding="utf-8")
    report = _write_comparison(out, table, data, vr.model_name, seconds)
    return MemorySummary(out, table, report, seconds)


def evaluate_memory(vr: VReason, data: Path | MemoryData, out: Path, **options: Any) -> MemorySummary:
    return vr.run(aevaluate_memory(vr.aio, data, out, **options))


def quantile(values: Sequence[float], q: float) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None


def _score_mode(
    folder: Path, mode: str, outcomes: list[Outcome], k: int, seconds: float, header: dict[str, Any]
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    records = [o.record for o in outcomes]
    with (folder / PREDICTIONS).open("w", encoding="utf-8") as handle:
        for outcome in outcomes:
            row = json.loads(outcome.record.to_json())
            row.update(recalled=outcome.recalled, needed=outcome.needed, recall_s=outcome.recall_s, cited=outcome.cited)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    result = score_qa(records)
    (folder / "metrics.json").write_text(json.dumps(result.metrics, indent=1), encoding="utf-8")
    write_report(
        folder,
        records,
        result,
        title=f"Evaluation: memory benchmark, mode {mode}",
        header=header | {"items": len(records), "wall time": f"{seconds:.1f} s"},
    )
    recalls = [o.recall_s * 1000 for o in outcomes if o.recall_s is not None]
    latencies = [r.latency_s * 1000 for r in records if r.error is None]
    entry: dict[str, Any] = {
        "questions": len(records),
        "accuracy": result.metrics["exact_match"],
        "errors": result.metrics["errors"],
        "by_family": {name: v["accuracy"] for name, v in (result.metrics.get("by_type") or {}).items()},
        "recall_at_k": None,
        "k": k,
        "recall_ms_p50": quantile(recalls, 0.5),
        "recall_ms_p99": quantile(recalls, 0.99),
        "answer_ms_p50": quantile(latencies, 0.5),
        "seconds": round(seconds, 1),
    }
    if mode in ("memory", "product"):
        entry["recall_at_k"] = sum(o.hit_rank is not None and o.hit_rank <= k for o in outcomes) / len(outcomes)
    return entry


def _write_comparison(
    out: Path, table: dict[str, dict[str, Any]], data: MemoryData, model: str, seconds: float
) -> Path:
    families = sorted({f for entry in table.values() for f in entry["by_family"]})
    lines = [
        "# Evaluation: multi-session memory",
        "",
        f"- model: {model}",
        f"- data: {data.path}",
        f"- users: {len(data.users())}, turns: {len(data.turns)}, questions: {len(data.questions)}",
        f"- wall time: {seconds:.1f} s",
        "",
        "| mode | accuracy | " + " | ".join(families) + " | recall@k | recall p50 ms | recall p99 ms | errors |",
        "|---|---:|" + "---:|" * len(families) + "---:|---:|---:|---:|",
    ]
    for mode, e in table.items():
        cells = [_fmt(e["by_family"].get(f)) for f in families]
        lines.append(
            f"| {mode} | {_fmt(e['accuracy'])} | "
            + " | ".join(cells)
            + f" | {_fmt(e['recall_at_k'])} | {_fmt(e['recall_ms_p50'], 1)} | {_fmt(e['recall_ms_p99'], 1)}"
            f" | {e['errors']} |"
        )
    lines += [
        "",
        "Each mode's predictions, metrics and plots are in its own folder ("
        + ", ".join(f"[{m}]({m}/report.md)" for m in table)
        + ").",
    ]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _fmt(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_summary(summary: MemorySummary, as_json: bool = False) -> None:
    """The modes side by side on stdout (or memory.json's content with `as_json`)."""
    if as_json:
        print(json.dumps(summary.table, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="memory benchmark")
    for column in ("mode", "accuracy", "recall@k", "recall p50 ms", "recall p99 ms", "answer p50 ms", "errors"):
        table.add_column(column, justify="right")
    for mode, e in summary.table.items():
        table.add_row(
            mode,
            _fmt(e["accuracy"]),
            _fmt(e["recall_at_k"]),
            _fmt(e["recall_ms_p50"], 1),
            _fmt(e["recall_ms_p99"], 1),
            _fmt(e["answer_ms_p50"], 0),
            str(e["errors"]),
        )
    Console().print(table)
    print(f"report: {summary.report}")
