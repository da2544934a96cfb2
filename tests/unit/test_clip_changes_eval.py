"""benchmarks/clip_changes_eval.py's rows: the family questions per setting, and with `where` the every-shape
where questions of the clips beside still shapes, split by whether the shape is drawn at that end, and with
`missing` their which-shape-is-not-there questions, with `timeline` their "when" and which-shapes-at-N-seconds
questions around the change, with `marker` their is-the-shape-there-at-N-seconds questions, with a lead every
clip cut from a longer recording; and the share of a row's `said` answer that `train.clips_eval.evaluate_clips`
reports for them, each clip asked as its row samples it."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from vreason.train.clips_eval import evaluate_clips

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


def test_the_missing_rows_name_the_changing_shape_at_the_end_it_lacks(tmp_path: Path):
    rows = cce.draw(tmp_path, 2, seed=7, missing=True)
    missing = [r for r in rows if "not there" in r["kind"]]
    assert Counter(r["kind"] for r in missing) == {
        "beside/appear/not there at the start: a shape": 2, "beside/appear/not there at the end: none": 2,
        "beside/disappear/not there at the start: none": 2, "beside/disappear/not there at the end: a shape": 2}
    colour = {r["video"]: r["answer"] for r in rows if r["kind"].endswith("/colour")}
    for r in missing:
        assert r["said"] == "none"
        if r["kind"].endswith("a shape"):
            assert r["answer"].startswith(colour[r["video"]] + " ")  # the shape that appears / disappears


def test_the_timeline_rows_straddle_the_when_answer(tmp_path: Path):
    rows = cce.draw(tmp_path, 2, seed=7, timeline=True)
    kinds = Counter(r["kind"] for r in rows if r["kind"].split("/")[-1].startswith(("when", "shapes at")))
    for event in ("appear", "disappear"):
        assert kinds[f"beside/{event}/when"] == 2
        assert kinds[f"beside/{event}/shapes at the change's second"] == 2
        assert kinds[f"beside/{event}/shapes at another second"] == 2
        assert kinds[f"beside/{event}/shapes at the second before"] == 2
    colour = {r["video"]: r["answer"] for r in rows if r["kind"].endswith("/colour")}
    for r in rows:
        if r["kind"].endswith(("the change's second", "the second before")):
            shown = f"{colour[r['video']]} " in f"{r['answer']} "
            assert shown == (r["kind"].endswith("change's second") == ("/appear/" in r["kind"]))
            assert r["max_new_tokens"] >= 24  # up to three shapes named: more than the default 8 tokens

def test_the_marker_rows_ask_the_changing_shape_around_its_second_and_the_still_shapes_once(tmp_path: Path):
    rows = [r for r in cce.draw(tmp_path, 2, seed=7, marker=True) if "/there at N s: " in r["kind"]]
    kinds = Counter(r["kind"] for r in rows)
    for event in ("appear", "disappear"):
        assert kinds[f"beside/{event}/there at N s: the change's second"] == 2
        assert kinds[f"beside/{event}/there at N s: the second before"] == 2
        assert kinds[f"beside/{event}/there at N s: other seconds"] >= 2
        assert kinds[f"beside/{event}/there at N s: a still shape"] >= 2
    for r in rows:
        assert r["said"] == "yes"
        appears = "/appear/" in r["kind"]
        expected = {"the change's second": "yes" if appears else "no", "the second before": "no" if appears else "yes",
                    "a still shape": "yes"}.get(r["kind"].split(": ")[-1])
        assert expected is None or r["answer"] == expected, r


def test_lead_rows_sample_the_clips_from_their_start_with_every_when_answer_that_much_later(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = cce.draw(tmp_path / "a", 2, seed=7, timeline=True)
    cut = cce.draw(tmp_path / "b", 2, seed=7, timeline=True, lead_seconds=4)
    assert [(r["video"], r["kind"]) for r in cut] == [(r["video"], r["kind"]) for r in plain]
    assert {r.get("start") for r in plain} == {None}
    assert {r["start"] for r in cut} == {4.0}
    for before, after in zip(plain, cut, strict=True):
        if before["kind"].endswith("/when"):
            assert int(after["answer"]) == int(before["answer"]) + 4
        elif "shapes at" in before["kind"]:  # the same shapes, asked at a second 4 later
            assert after["answer"] == before["answer"]
            assert int(after["question"].split()[-2]) == int(before["question"].split()[-2]) + 4
        else:
            assert (after["question"], after["answer"]) == (before["question"], before["answer"])


def test_the_clock_rows_read_the_first_and_last_marker_of_each_clip_beside_still_shapes(tmp_path: Path):
    rows = [r for r in cce.draw(tmp_path, 2, seed=7, clock=True, lead_seconds=3) if "/clock: " in r["kind"]]
    assert Counter(r["kind"] for r in rows) == {f"beside/{e}/clock: {end}": 2 for e in ("appear", "disappear")
                                                for end in ("start", "end")}
    by_clip: dict[str, dict[str, int]] = {}
    for r in rows:
        by_clip.setdefault(r["video"], {})[r["kind"].rsplit(" ", 1)[1]] = int(r["answer"])
    for seconds in by_clip.values():
        assert seconds["start"] == 3  # the lead: the first marker reads 3.x
        assert seconds["end"] - seconds["start"] + 1 in cce.HELD_OUT.seconds


class ScriptedAnswers:
    """Answers each question with a fixed text: what evaluate_clips does with answers, apart from any model."""

    def __init__(self, answers: dict[str, str]):
        self.answers = answers
        self.limits: list[int] = []
        self.videos: list = []

    def ask(self, image, question, **options):
        self.limits.append(options["max_new_tokens"])
        self.videos.append(options["video"])
        return SimpleNamespace(text=self.answers[question])


def test_the_said_share_counts_normalised_answers_on_every_row_that_names_one(tmp_path: Path):
    rows = [
        {"video": "a.mp4", "question": "q1", "answer": "not there", "said": "Not there", "kind": "absent"},
        {"video": "a.mp4", "question": "q2", "answer": "not there", "said": "not there", "kind": "absent"},
        {"video": "a.mp4", "question": "q3", "answer": "left", "said": "not there", "kind": "present"},
        {"video": "a.mp4", "question": "q4", "answer": "top left", "said": "not there", "kind": "present"},
        {"video": "a.mp4", "question": "q5", "answer": "right", "said": "not there", "kind": "present"},
        {"video": "a.mp4", "question": "q6", "answer": "red", "kind": "colour", "max_new_tokens": 32},
        {"video": "a.mp4", "question": "q7", "answer": "3", "kind": "beside/appear/when"},
        {"video": "a.mp4", "question": "q8", "answer": "3", "kind": "beside/appear/when", "start": 2.0},
    ]
    answers = {"q1": "Not there.", "q2": "left", "q3": "NOT THERE", "q4": "top  left", "q5": "left", "q6": "red",
               "q7": "4", "q8": "5"}
    model = ScriptedAnswers(answers)
    report = evaluate_clips(model, rows, tmp_path)
    assert model.limits == [8] * 5 + [32, 8, 8]  # a row's own limit, else a few words'
    assert model.videos[0] == str(tmp_path / "a.mp4")
    assert model.videos[-1] == {"video": str(tmp_path / "a.mp4"), "start": 2.0}  # sampled as the row says
    assert report["beside/appear/when"] == {"count": 2, "exact_match": 0.0, "within_1s": 0.5}
    assert report["absent"] == {"count": 2, "exact_match": 0.5, "said": {"not there": 0.5}}
    assert report["present"]["exact_match"] == pytest.approx(1 / 3)
    assert report["present"]["said"] == {"not there": pytest.approx(1 / 3)}  # one still shape missed
    assert report["colour"] == {"count": 1, "exact_match": 1.0}  # no "said": no share
