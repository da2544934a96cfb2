"""benchmarks/clip_changes_eval.py's rows: the family questions per setting, and with `where` the every-shape
where questions of the clips beside still shapes, split by whether the shape is drawn at that end."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import clip_changes_eval as cce  # noqa: E402


def test_rows_per_setting_and_the_where_rows_of_clips_beside_still_shapes(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = cce.draw(tmp_path / "a", 2, seed=7)
    rows = cce.draw(tmp_path / "b", 2, seed=7, where=True)
    assert plain
    assert [r for r in rows if "where" not in r["kind"]] == plain
    kinds = Counter(r["kind"] for r in rows if "where" in r["kind"])
    # 2 appear and 2 disappear clips beside still shapes: the changing shape is absent at one end of each
    assert kinds["beside/appear/where at the start: absent"] == 2
    assert kinds["beside/disappear/where at the end: absent"] == 2
    assert "beside/appear/where at the end: absent" not in kinds
    assert "beside/disappear/where at the start: absent" not in kinds
    assert kinds["beside/appear/where at the start: present"] >= 2  # the 1-2 still shapes of each clip
    assert all(r["video"].startswith("beside_") for r in rows if "where" in r["kind"])
    assert all((tmp_path / "b" / r["video"]).is_file() for r in rows)


def test_the_said_share_of_absent_rows_is_their_exact_match_and_present_rows_report_it_too(tmp_path: Path):
    """evaluate_clips with the built-in model: on rows whose answer is "not there" the share that said it is the
    exact match; rows whose answer is a place report the share too (the shapes the model missed)."""
    from vreason import VReason
    from vreason.models.demo import demo_model_dir
    from vreason.train.clips_eval import evaluate_clips

    rows = [r for r in cce.draw(tmp_path, 1, seed=7, where=True) if "where" in r["kind"]]
    vr = VReason(str(demo_model_dir()), dtype="float32")
    try:
        report = evaluate_clips(vr, rows, tmp_path)
    finally:
        vr.close()
    where_kinds = {r["kind"] for r in rows}
    assert where_kinds <= set(report)
    for kind in where_kinds:
        said = report[kind]["said"][cce.ABSENT]
        assert 0.0 <= said <= 1.0
        if kind.endswith("absent"):
            assert said == report[kind]["exact_match"]
        else:
            assert said + report[kind]["exact_match"] <= 1.0  # a place and "not there" exclude each other
