"""`vreason eval --data memory:FILE` end to end, as users run it: a small multi-session memory benchmark written by
eval/memory_data.py (one user: parts shown in early sessions, distractors, then five questions), the real
command in a subprocess with the built-in demo model and a real SQLite memory store. With memory the model must
beat itself without memory, recall must find the needed memories, and every mode's report must be written; the
metrics are checked against predictions.jsonl, so the summary cannot drift from what was answered."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from vreason.eval.memory_data import write_memory_data
from vreason.train.shapes_world import ShapesWorld

ROOT = Path(__file__).resolve().parents[2]


def test_memory_beats_no_memory_through_the_eval_command(tmp_path):
    data = write_memory_data(tmp_path / "data", ShapesWorld, users=1, seed=5, parts=2, distractor_sessions=1)
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "vreason.cli.app", "eval", "--data", f"memory:{data}", "--out", str(out), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"VREASON_MEMORY_DIR": str(tmp_path / "elsewhere"), **_env()},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(table) == {"memory", "product", "none", "history"}
    memory, none = table["memory"], table["none"]
    assert memory["questions"] == none["questions"] == 5
    # of the five, "which part had ..." is answered by no mode with the demo model (its "which" family 0.0 before and
    # after memory), and the other four are its own answers about the recalled pictures: a model that counts one
    # picture in ten wrong (seed-1001 count 0.907) may miss one of them, and memory must still answer three
    assert memory["accuracy"] >= 0.6 > none["accuracy"]
    assert memory["recall_at_k"] >= 0.8
    assert memory["recall_ms_p50"] is not None
    assert none["recall_at_k"] is None
    assert table["product"]["recall_at_k"] > 0  # the product's turn recalls from its own store too
    for mode, entry in table.items():
        rows = [json.loads(line) for line in (out / mode / "predictions.jsonl").read_text().splitlines()]
        metrics = json.loads((out / mode / "metrics.json").read_text())
        assert metrics["exact_match"] == entry["accuracy"]
        assert (out / mode / "report.md").is_file()
        if mode == "memory":  # the needed memories are among those recalled, for as many as recall@k says
            found = sum(any(m in r["recalled"] for m in r["needed"]) for r in rows)
            assert found / len(rows) == entry["recall_at_k"]
    assert "| memory |" in (out / "report.md").read_text()
    assert not (tmp_path / "elsewhere").exists()  # the run's stores live under --out, not in the user's memory


def test_a_missing_memory_file_is_one_line(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vreason.cli.app",
            "eval",
            "--data",
            f"memory:{tmp_path}/none.jsonl",
            "--out",
            str(tmp_path / "run"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=_env(),
    )
    assert done.returncode != 0
    assert "none.jsonl is not a file" in done.stderr
    assert "Traceback" not in done.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("VREASON_MEMORY")}
