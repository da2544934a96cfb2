"""What `vreason reason` and `vreason ground` print, run as a user runs them, on the built-in demo model.

The demo names colours well and answers grounding prompts in Qwen's bbox_2d format, so the printed lines are
knowable: text in brackets must reach the terminal as written (not be eaten as rich markup), a target that
already says "every" must not be asked "every every", and --points must come back as points.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_in_process import run_vreason as run

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SHAPES = str(ROOT / "examples" / "shapes.png")  # one red circle


def test_reason_prints_the_vote_and_box_counts_in_brackets():
    result = run("reason", SHAPES, "--steps", "What color is the shape?",
                 "locate every red circle and output bbox_2d in JSON.", "--vote", "5", "--seed", "11",
                 "--max-new-tokens", "40")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    first = next(line for line in lines if line.strip().startswith("-> ") and "agreement" in line)
    assert re.fullmatch(r"   -> red \[agreement \d+% of 5\]", first), first
    assert any(re.search(r"\[\d+ box\(es\)\]$", line) for line in lines), result.stderr


def test_ground_every_target_is_asked_once_every():
    every = json.loads(run("ground", SHAPES, "every shape", "--json", "--max-new-tokens", "40").stdout)
    assert every["prompt"] == "locate every shape and output bbox_2d in JSON."
    plain = json.loads(run("ground", SHAPES, "red circle", "--json", "--max-new-tokens", "40").stdout)
    assert plain["prompt"] == "locate every red circle and output bbox_2d in JSON."


def test_ground_points_prints_points():
    result = run("ground", SHAPES, "red circle", "--points", "--json", "--max-new-tokens", "40")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["kind"] == "point"
    assert data["detections"]  # the demo answers with a box; its centre is the point
    for d in data["detections"]:
        assert "bbox" not in d
        x, y = d["point"]
        assert 0 <= x <= 256
        assert 0 <= y <= 256
    text = run("ground", SHAPES, "red circle", "--points", "--max-new-tokens", "40")
    assert text.returncode == 0, text.stderr
    coordinates = [line.rpartition(": ")[2].split(", ") for line in text.stdout.splitlines()]
    assert coordinates, text.stderr
    assert all(len(c) == 2 for c in coordinates), text.stdout  # x, y, not x1, y1, x2, y2
