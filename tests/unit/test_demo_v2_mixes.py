"""Follow-up mixes of the second stage (train/demo_v2_mixes.py): new data drawn for a run plus whole media
groups sampled from earlier files, every path resolving from the file's folder, the same file for a seed."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from vreason.train import clips_train as ct
from vreason.train import demo_v2_draw, demo_v2_mixes
from vreason.train.dataset import read_jsonl
from vreason.train.demo_chain import CANDIDATE_FOLLOW_UPS, FollowUp
from vreason.train.demo_recipe import _follow_ups
from vreason.train.demo_v2 import V2Config, write_data
from vreason.train.demo_v2_mix_words import MIX_WORDS
from vreason.train.demo_v2_mixes import Mix, write_mix
from vreason.train.shapes_clips import TRAIN
from vreason.train.shapes_questions import SHAPES
from vreason.train.shapes_world import PALETTE

SMALL = {
    "changes": Mix("change-clips", 2, ("all",), {"clip": 1, "varied": 2, "other": 1}),
    "clips": Mix("", 0, ("all", "changes"), {"clip": -1, "picture": 2}),
    "count": Mix("count-weighted", 5, ("all",), {"clip": 1, "picture": 2}),
    "count-focus": Mix("count", 4, ("count",), {"any": 3}),
    "count-plain": Mix("plain-count-weighted", 12, ("count",), {"any": 3}),
    "scenes3d": Mix("bev-scenes", 3, ("all",), {"picture": 2, "clip": 1}),
    "scenes3d-plain": Mix("plain-count-weighted", 4, ("scenes3d",), {"any": 5}),
    "scans3d": Mix("bev-scans", 2, ("all",), {"picture": 1}),
}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, mix in SMALL.items():
        monkeypatch.setitem(demo_v2_mixes.MIXES, name, mix)
    write_data(tmp_path, V2Config(varied_scenes=4, plain_scenes=3, clips=2, easy_vqa=False))
    return tmp_path


def _groups(path: Path) -> Counter:
    return Counter(demo_v2_mixes._media(json.loads(line)) for line in path.read_text().splitlines())


def test_each_mix_draws_its_new_data_and_samples_whole_groups(folder: Path):
    source = _groups(folder / "all_train.jsonl")
    changes = write_mix(folder, "changes", seed=7)
    groups = _groups(changes)
    new = [m for m in groups if m.startswith("mixes/changes/")]
    assert sorted(new) == ["mixes/changes/media/c000000.mp4", "mixes/changes/media/c000001.mp4"]
    assert all((folder / m).is_file() for m in new)
    sampled = [m for m in groups if not m.startswith("mixes/")]
    assert Counter(m.split("/")[0] for m in sampled) == {"clips": 1, "varied": 2, "plain": 1}
    assert all(groups[m] == source[m] for m in sampled)  # a sampled picture or clip keeps all its questions
    assert len(read_jsonl(changes).examples) == sum(groups.values())  # every path resolves

    clips = _groups(write_mix(folder, "clips", seed=8))
    assert {m for m in clips if m.endswith(".mp4")} == {m for m in source if m.endswith(".mp4")} | set(new)
    assert len([m for m in clips if not m.endswith(".mp4")]) == 2

    count = write_mix(folder, "count", seed=9)
    assert count.read_text() == write_mix(folder, "count", seed=9).read_text()  # the same file for a seed
    focus = write_mix(folder, "count-focus", seed=10)
    drawn = [json.loads(line) for line in focus.read_text().splitlines() if "mixes/count-focus/" in line]
    questions = [r["question"] for r in drawn if "question" in r] + [
        part["text"] for r in drawn for m in r.get("messages", []) if m["role"] == "user"
        for part in m["content"] if part.get("type") == "text"]
    assert drawn
    assert all(q.lower().startswith("how many") for q in questions)
    assert len({m for m in _groups(focus) if not m.startswith("mixes/count-focus/")}) == 3

    plain = _groups(write_mix(folder, "count-plain", seed=11))
    drawn = [m for m in plain if m.startswith("mixes/count-plain/")]
    assert len(drawn) == 12
    # the first stage's pictures: square, 64-256 px in steps of 32 (varied ones are any size, often not square)
    sizes = {Image.open(folder / m).size for m in drawn}
    assert all(w == h and w % 32 == 0 for w, h in sizes)
    rows = [json.loads(line) for line in (folder / "mix_count-plain.jsonl").read_text().splitlines()]
    assert any("how many" in json.dumps(r).lower() for r in rows if "mixes/count-plain/" in json.dumps(r))
    assert len([m for m in plain if not m.startswith("mixes/count-plain/")]) == 3


def test_the_3d_mix_draws_bird_s_eye_views_with_their_questions(folder: Path):
    path = write_mix(folder, "scenes3d", seed=12)
    groups = _groups(path)
    drawn = sorted(m for m in groups if m.startswith("mixes/scenes3d/"))
    assert drawn == [f"mixes/scenes3d/media/v000_{i:04d}.png" for i in range(3)]
    assert {max(Image.open(folder / m).size) for m in drawn} == {448}  # as `vreason ask3d` renders them
    text = path.read_text().lower()
    assert "how many shapes are there?" in text
    assert "bbox_2d" in text
    sampled = [m for m in groups if not m.startswith("mixes/")]
    assert Counter(m.endswith(".mp4") for m in sampled) == {False: 2, True: 1}
    assert path.read_text() == write_mix(folder, "scenes3d", seed=12).read_text()
    assert len(read_jsonl(path).examples) == sum(groups.values())

    plain = _groups(write_mix(folder, "scenes3d-plain", seed=13))
    assert len([m for m in plain if m.startswith("mixes/scenes3d-plain/")]) == 4
    sampled = [m for m in plain if not m.startswith("mixes/scenes3d-plain/")]
    assert len(sampled) == 5
    assert set(sampled) <= set(groups)  # groups of the 3D mix: its views among them or its own samples


def test_the_scans_mix_draws_scan_views(folder: Path):
    from vreason.train.scenes3d_views import bev_scene, scan_scene

    groups = _groups(write_mix(folder, "scans3d", seed=14))
    drawn = sorted(m for m in groups if m.startswith("mixes/scans3d/"))
    assert drawn == ["mixes/scans3d/media/v000_0000.png", "mixes/scans3d/media/v000_0001.png"]
    pixels = Image.open(folder / drawn[1]).convert("RGB").tobytes()
    assert pixels == scan_scene(14, 1).image.convert("RGB").tobytes()
    assert pixels != bev_scene(14, 1).image.convert("RGB").tobytes()


def test_the_rehearsed_clip_mix_keeps_views_apart_from_other_pictures(folder: Path, monkeypatch: pytest.MonkeyPatch):
    """Clips after the 3D mixes: its rehearsal holds the views they drew, counted apart from other pictures."""
    with pytest.raises(ValueError, match="samples mix 'scans3d-more-plain'"):
        V2Config(follow_ups=(FollowUp("changes", 1, 1e-4), FollowUp("clips", 1, 1e-4),
                             FollowUp("clips-rehearsed", 1, 1e-4)))
    monkeypatch.setitem(demo_v2_mixes.MIXES, "clips-rehearsed",
                        Mix("", 0, ("clips", "scans3d"), {"clip": 2, "view": 2, "other": 1}))
    write_mix(folder, "changes", seed=7)
    write_mix(folder, "clips", seed=8)
    write_mix(folder, "scans3d", seed=14)
    path = write_mix(folder, "clips-rehearsed", seed=15)
    groups = _groups(path)
    assert len([m for m in groups if m.endswith(".mp4")]) == 2
    assert sorted(m for m in groups if m.startswith("mixes/scans3d/")) == [
        "mixes/scans3d/media/v000_0000.png", "mixes/scans3d/media/v000_0001.png"]
    others = [m for m in groups if not m.endswith(".mp4") and not m.startswith("mixes/scans3d/")]
    assert len(others) == 1
    assert not others[0].startswith("mixes/")
    assert len(read_jsonl(path).examples) == sum(groups.values())


def test_the_moves_mix_draws_moving_and_appearing_clips_beside_the_rehearsed_mix(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    """Motion and counting in front (three new clips in five move, two show 1-3 shapes appearing), the rehearsed
    mix's clips, views and pictures behind them."""
    monkeypatch.setitem(demo_v2_mixes.MIXES, "clips-rehearsed",
                        Mix("", 0, ("clips", "scans3d"), {"clip": 2, "view": 2, "other": 1}))
    monkeypatch.setitem(demo_v2_mixes.MIXES, "moves",
                        Mix("move-clips", 5, ("clips-rehearsed",), {"clip": 1, "view": 1, "other": 1}))
    for name, seed in (("changes", 7), ("clips", 8), ("scans3d", 14), ("clips-rehearsed", 15)):
        write_mix(folder, name, seed=seed)
    rehearsed = _groups(demo_v2_mixes.mix_path(folder, "clips-rehearsed"))
    path = write_mix(folder, "moves", seed=16)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    drawn = [r for r in rows if r.get("video", "").startswith("mixes/moves/")]
    assert sorted({r["video"] for r in drawn}) == [f"mixes/moves/media/c{i:06d}.mp4" for i in range(5)]
    moving = {r["video"] for r in drawn if r["question"].lower().startswith("which direction")}
    counted = {r["video"] for r in drawn if r["question"].lower() == "how many shapes appear in the video?"}
    assert moving == {f"mixes/moves/media/c{i:06d}.mp4" for i in (0, 2, 4)}
    assert {f"mixes/moves/media/c{i:06d}.mp4" for i in (1, 3)} <= counted
    assert all(int(r["answer"]) >= 1 for r in drawn if r["video"] in ("mixes/moves/media/c000001.mp4",
                                                                       "mixes/moves/media/c000003.mp4")
               and r["question"].lower() == "how many shapes appear in the video?")
    sampled = [m for m in _groups(path) if not m.startswith("mixes/moves/")]
    assert len(sampled) == 3
    assert set(sampled) <= set(rehearsed)
    assert sum(m.endswith(".mp4") for m in sampled) == 1
    assert sum(m.startswith("mixes/scans3d/") for m in sampled) == 1
    assert len(read_jsonl(path).examples) == len(rows)  # every path resolves


def test_the_moves_where_mix_asks_its_new_clips_where_the_mover_starts_and_ends_and_no_other_mix_does(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "moves", Mix("move-clips", 3, ("changes",), {"clip": 1}))
    monkeypatch.setitem(demo_v2_mixes.MIXES, "moves-where", Mix("move-where-clips", 5, ("moves",), {"clip": 2}))
    write_mix(folder, "changes", seed=7)
    write_mix(folder, "moves", seed=8)
    rows = [json.loads(line) for line in write_mix(folder, "moves-where", seed=9).read_text().splitlines()]
    where = {r["video"] for r in rows if r["question"].lower().startswith("where is the") and "video" in r}
    assert where == {f"mixes/moves-where/media/c{i:06d}.mp4" for i in (0, 2, 4)}  # the clips where a shape moves
    movers = {r["video"]: r["answer"] for r in rows if r["question"].lower() == "which shape moves?"}
    for r in rows:
        if r["video"] in where and r["question"].lower().startswith("which direction does the"):
            assert movers[r["video"]] in r["question"]
    earlier = [json.loads(line) for name in ("changes", "moves")
               for line in demo_v2_mixes.mix_path(folder, name).read_text().splitlines()]
    assert not [r for r in earlier if "of the video?" in r["question"] and r["question"].lower().startswith("where")
                or r["question"].lower() == "which shape moves?"]


def test_the_moves_changes_where_mix_puts_still_shapes_beside_every_change(folder: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "moves-changes-where",
                        Mix("move-change-where-clips", 5, ("changes",), {"clip": 1}))
    write_mix(folder, "changes", seed=7)
    rows = [json.loads(line) for line in write_mix(folder, "moves-changes-where", seed=9).read_text().splitlines()]
    new = [r for r in rows if r.get("video", "").startswith("mixes/moves-changes-where/")]
    by_clip: dict[str, dict[str, str]] = {}
    for r in new:
        by_clip.setdefault(r["video"], {})[r["question"].lower()] = r["answer"]
    assert len(by_clip) == 5
    for i, event in enumerate(("move", "appear", "move", "disappear", "move")):
        asked = by_clip[f"mixes/moves-changes-where/media/c{i:06d}.mp4"]
        assert ("which shape moves?" in asked) == (event == "move")  # where-questions, as the moves-where mix
        if event != "move":
            changed = asked[f"what color is the shape that {event}s?"]
            start, end = asked[ct.SCAFFOLDS[0]], asked[ct.SCAFFOLDS[1]]
            # the changing shape on one side only, and a still one on both
            assert (changed in start) != (changed in end)
            assert "no shapes" not in (start, end)


def test_the_changes_missing_mix_alone_asks_which_shape_is_not_there(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "changes-presence",
                        Mix("change-presence-clips", 3, ("changes",), {"clip": 1}))
    monkeypatch.setitem(demo_v2_mixes.MIXES, "changes-missing",
                        Mix("change-missing-clips", 3, ("changes-presence",), {"clip": 2}))
    write_mix(folder, "changes", seed=7)
    presence = [json.loads(line) for line in write_mix(folder, "changes-presence", seed=9).read_text().splitlines()]
    rows = [json.loads(line) for line in write_mix(folder, "changes-missing", seed=9).read_text().splitlines()]
    assert not [r for r in presence if r["question"].lower() in ct.MISSING]
    by_clip: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.get("video", "").startswith("mixes/changes-missing/"):
            by_clip.setdefault(r["video"], {})[r["question"].lower()] = r["answer"]
    assert len(by_clip) == 3
    for i, event in enumerate(("appear", "disappear", "move")):
        asked = by_clip[f"mixes/changes-missing/media/c{i:06d}.mp4"]
        start, end = asked[ct.MISSING[0]], asked[ct.MISSING[1]]
        if event == "move":
            assert start == end == ct.NONE_MISSING
            continue
        changed = asked[f"what color is the shape that {event}s?"]
        # the changing shape named at the end it is missing from, as the every-shape where answers say
        assert (start if event == "appear" else end).startswith(changed + " ")
        assert (end if event == "appear" else start) == ct.NONE_MISSING
        name = (start if event == "appear" else end)
        side = "start" if event == "appear" else "end"
        assert asked[f"where is the {name} at the {side} of the video?"] == ct.ABSENT


def _after_missing(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, kind: str,
                   missing_clips: int = 2, new: int = 3) -> tuple[list[dict], list[dict]]:
    """Rows of a small "changes-missing" mix and of mix `name` (new clips of `kind`) drawn after it."""
    monkeypatch.setitem(demo_v2_mixes.MIXES, "changes-missing",
                        Mix("change-missing-clips", missing_clips, ("changes",), {"clip": 1}))
    monkeypatch.setitem(demo_v2_mixes.MIXES, name, Mix(kind, new, ("changes-missing",), {"clip": 2}))
    write_mix(folder, "changes", seed=7)
    missing = [json.loads(line) for line in write_mix(folder, "changes-missing", seed=9).read_text().splitlines()]
    return missing, [json.loads(line) for line in write_mix(folder, name, seed=9).read_text().splitlines()]


def test_the_changes_timeline_mix_asks_what_is_there_at_the_change_second(folder: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    missing, rows = _after_missing(folder, monkeypatch, "changes-timeline", "change-timeline-clips")
    timeline = re.compile(r"which shapes are there at (\d+) seconds\?")
    assert not [r for r in missing if timeline.fullmatch(r["question"].lower())]
    by_clip: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.get("video", "").startswith("mixes/changes-timeline/"):
            by_clip.setdefault(r["video"], {})[r["question"].lower()] = r["answer"]
    assert len(by_clip) == 3
    for i, event in enumerate(("appear", "disappear", "move")):
        asked = by_clip[f"mixes/changes-timeline/media/c{i:06d}.mp4"]
        assert ct.MISSING[0] in asked  # the missing clips' questions too
        at = {int(m[1]): a for q, a in asked.items() if (m := timeline.fullmatch(q))}
        assert len(at) == (2 if event == "move" else 3)
        if event == "move":
            continue
        changed = asked[f"what color is the shape that {event}s?"]
        when = int(next(a for q, a in asked.items() if q.startswith("when does")))
        # the changing shape there at its "when" second exactly if it appears, and the other way the second before
        assert (changed in at[when]) == (event == "appear")
        assert (changed in at[when - 1]) == (event == "disappear")


def test_the_changes_marker_mix_asks_whether_the_changing_shape_is_there_at_every_second(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    missing, rows = _after_missing(folder, monkeypatch, "changes-marker", "change-marker-clips")
    marker = re.compile(r"is the (\w+ \w+) there at (\d+) seconds\?")
    assert not [r for r in missing if marker.fullmatch(r["question"].lower())]
    by_clip: dict[str, dict[str, str]] = {}
    for r in rows:
        if r.get("video", "").startswith("mixes/changes-marker/"):
            by_clip.setdefault(r["video"], {})[r["question"].lower()] = r["answer"]
    assert len(by_clip) == 3
    for i, event in enumerate(("appear", "disappear", "move")):
        asked = by_clip[f"mixes/changes-marker/media/c{i:06d}.mp4"]
        assert ct.MISSING[0] in asked  # the missing clips' questions too
        at: dict[str, dict[int, str]] = {}
        for q, a in asked.items():
            if m := marker.fullmatch(q):
                at.setdefault(m[1], {})[int(m[2])] = a
        assert at
        if event == "move":
            assert {a for seconds in at.values() for a in seconds.values()} == {"yes"}
            continue
        when = next((q, int(a)) for q, a in asked.items() if q.startswith("when does"))
        changing = " ".join(when[0].split()[3:5])
        # "no" before an appearance and "yes" from its second on; the other way round for a shape that leaves
        assert at[changing][when[1]] == ("yes" if event == "appear" else "no")
        assert at[changing][when[1] - 1] == ("no" if event == "appear" else "yes")
        assert all(len(seconds) == 1 for name, seconds in at.items() if name != changing)


def test_the_changes_lead_mix_cuts_each_clip_from_a_longer_recording_and_moves_its_when_answers(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    missing, rows = _after_missing(folder, monkeypatch, "changes-lead", "change-lead-clips", missing_clips=5, new=5)
    assert not [r for r in missing if "start" in r]
    plain = {(r["video"].rsplit("/", 1)[1], r["question"]): r for r in missing if "/changes-missing/" in r["video"]}
    leads = set()
    for r in rows:
        if not r["video"].startswith("mixes/changes-lead/"):
            continue
        twin = plain[(r["video"].rsplit("/", 1)[1], r["question"])]  # the same clip drawn without a lead
        lead = r.get("start", 0.0)
        leads.add(lead)
        assert demo_v2_draw.LEAD[0] <= lead <= demo_v2_draw.LEAD[1]
        if r["question"].lower().startswith("when does"):
            assert int(r["answer"]) == int(twin["answer"]) + lead
        else:
            assert r["answer"] == twin["answer"]
    assert len(leads) > 1  # drawn per clip


def test_the_changes_clock_mix_asks_the_first_and_last_second_of_lead_clips_and_no_earlier_mix_does(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    missing, rows = _after_missing(folder, monkeypatch, "changes-clock", "change-clock-clips", new=5)
    assert not [r for r in missing if r["question"].lower() in ct.CLOCK]
    asked: dict[str, dict[str, str]] = {}
    for r in rows:
        if r["video"].startswith("mixes/changes-clock/"):
            asked.setdefault(r["video"], {"start": r.get("start", 0.0)})[r["question"].lower()] = r["answer"]
    assert len(asked) == 5
    for clip in asked.values():
        first, last = int(clip[ct.CLOCK[0]]), int(clip[ct.CLOCK[1]])
        assert first == clip["start"]  # the first marker reads the seconds of recording before the clip
        assert last - first + 1 in TRAIN.seconds  # one marker a second: as many as the clip lasts


def test_the_stills_mix_asks_a_still_of_some_new_clips_about_shapes_named_by_colour_and_shape(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    from PIL import Image

    from vreason.train.clip_stills import PRESENCE

    _, rows = _after_missing(folder, monkeypatch, "boxes-changes-stills", "change-missing-still-clips", new=8)
    new = [r for r in rows if (r.get("video") or r.get("image", "")).startswith("mixes/boxes-changes-stills/")]
    stills = {r["image"] for r in new if "image" in r}
    clips = {r["video"] for r in new if "video" in r}
    assert len(clips) == 8
    assert 0 < len(stills) < 8  # half the clips, drawn per clip
    assert {s.replace(".png", ".mp4") for s in stills} <= clips  # a still of its own clip
    forms = [re.compile(re.escape(w).replace(re.escape("{a}"), "an?").replace(re.escape("{name}"), r"(\w+) (\w+)"))
             for w in PRESENCE]
    for still in stills:
        asked = [r for r in new if r.get("image") == still]
        assert Image.open(folder / still).size in {(w, h) for w, h in TRAIN.sides}
        assert {r["answer"] for r in asked} == {"yes", "no"} or {r["answer"] for r in asked} == {"no"}
        for r in asked:
            named = [m for f in forms if (m := f.fullmatch(r["question"].lower()))]
            assert named, r["question"]
            assert named[0][2] in SHAPES  # colour and shape, both named
    assert not [r for r in rows if "image" in r and "/changes-missing/" in r["image"]]  # no earlier mix's clips


def test_the_turned_mix_draws_varied_pictures_weighted_to_naming_shapes(folder: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    from vreason.train import shapes_varied

    monkeypatch.setitem(demo_v2_mixes.MIXES, "turned", Mix("turned-varied", 30, ("count",), {"any": 3}))
    write_mix(folder, "count", seed=9)
    angles: list[float] = []
    outline = shapes_varied.outline
    monkeypatch.setattr(shapes_varied, "outline", lambda kind, w, h, angle: angles.append(angle) or
                        outline(kind, w, h, angle))
    groups = _groups(write_mix(folder, "turned", seed=12))  # drawn in this process (one worker)
    assert len(angles) >= 30
    assert all(demo_v2_draw.TURNED[0] <= abs(a) <= demo_v2_draw.TURNED[1] for a in angles)
    drawn = [m for m in groups if m.startswith("mixes/turned/")]
    assert 27 <= len(drawn) <= 30  # a picture whose shapes all share their colour has no shape question
    assert len([m for m in groups if not m.startswith("mixes/turned/")]) == 3
    assert len({Image.open(folder / m).size for m in drawn}) > 5  # varied pictures: many sizes
    rows = [json.loads(line) for line in (folder / "mix_turned.jsonl").read_text().splitlines()]
    answers = [r["answer"] for r in rows if r.get("image", "").startswith("mixes/turned/")] + [
        m["content"] for r in rows if "mixes/turned/" in json.dumps(r) for m in r.get("messages", [])
        if m["role"] == "assistant"]
    naming = sum(a in SHAPES for a in answers)
    counting = sum(a.isdigit() for a in answers)
    assert naming > counting > 0


def _questions_and_answers(rows: list[dict], under: str) -> list[tuple[str, str]]:
    """(question, answer) of every row or conversation turn about a picture under `under`."""
    pairs = []
    for row in rows:
        if row.get("image", "").startswith(under):
            pairs.append((row["question"].lower(), row["answer"]))
        elif under in json.dumps(row):
            turns = [m for m in row["messages"] if m["role"] != "system"]  # memory's notes are no question
            pairs += [(next(p["text"] for p in q["content"] if p["type"] == "text").lower(), a["content"])
                      for q, a in zip(turns[::2], turns[1::2], strict=True)]
    return pairs


def test_the_boxes_mix_draws_pictures_mostly_not_square_weighted_to_boxes(folder: Path,
                                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "boxes-varied", Mix("boxes-varied", 80, ("count",), {"any": 3}))
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, "boxes-varied", seed=14))
    drawn = [m for m in groups if m.startswith("mixes/boxes-varied/")]
    assert 75 <= len(drawn) <= 80  # a picture may have no question of the family drawn for it
    assert len([m for m in groups if not m.startswith("mixes/boxes-varied/")]) == 3
    sizes = [Image.open(folder / m).size for m in drawn]
    # 4 in 5 of the pictures of shapes not square (a reading picture's size is the varied part's own)
    assert sum(w != h for w, h in sizes) >= 0.65 * len(sizes)
    assert {w > h for w, h in sizes if w != h} == {True, False}  # wide and tall both
    rows = [json.loads(line) for line in (folder / "mix_boxes-varied.jsonl").read_text().splitlines()]
    asked: dict[str, list[str]] = {}
    for picture in drawn:
        asked[picture] = [a for _, a in _questions_and_answers(rows, picture)]
    only_boxes = [p for p, answers in asked.items() if answers and all("bbox_2d" in a for a in answers)]
    assert len(only_boxes) >= 0.3 * len(drawn)  # 4 in 9 pictures asked for boxes alone
    answers = [a for found in asked.values() for a in found]
    boxed = sum(len(a) for a in answers if "bbox_2d" in a)
    assert boxed > 0.4 * sum(len(a) for a in answers)  # boxes are near half the answers' text


def test_the_square_mix_draws_pictures_mostly_not_square_asked_boxes_and_shapes_and_turns_square_on(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    from vreason.train.demo_v2 import follow_up_config

    answers = _mostly_not_square_mix(folder, monkeypatch, "square-stills",
                                     Mix("square-varied", 80, ("count",), {"any": 3}, square=True), seed=15)
    boxed = sum(any("bbox_2d" in a for a in found) for found in answers)
    named = sum(any(a in SHAPES for a in found) for found in answers)
    assert boxed > 0.3 * len(answers)
    assert named > 0.3 * len(answers)
    # the run of this mix tells fine-tuning to show pictures square; a run of another mix leaves the checkpoint's
    config = V2Config(follow_ups=(FollowUp("count", 10, 1e-4), FollowUp("square-stills", 10, 1e-4)))
    square = [follow_up_config(folder / "x.jsonl", folder, folder / "out", config, k).square_pictures for k in (0, 1)]
    assert square == [None, True]


def test_the_hexagons_mix_asks_mostly_for_shapes_of_pictures_with_hexagons_beside_circles(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    answers = _mostly_not_square_mix(folder, monkeypatch, "hexagons",
                                     Mix("hexagon-varied", 80, ("count",), {"any": 3}), seed=16)
    assert sum(any(a in SHAPES for a in found) for found in answers) > 0.4 * len(answers)  # 5 in 10 drawn for shapes
    named = [a for found in answers for a in found if a in SHAPES]
    assert named.count("hexagon") > 0.3 * len(named)
    assert named.count("hexagon") + named.count("circle") > 0.5 * len(named)
    assert set(named) == set(SHAPES)  # the other kinds are still asked


def _mostly_not_square_mix(folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, mix: Mix,
                           seed: int) -> list[list[str]]:
    """Draws mix `name` as `mix` (after the "count" mix it samples), asserts that most of its new pictures are not
    square (BOXES_SQUARE_SHARE: 4 in 5), and returns the answers to each new picture's questions."""
    monkeypatch.setitem(demo_v2_mixes.MIXES, name, mix)
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, name, seed=seed))
    drawn = [m for m in groups if m.startswith(f"mixes/{name}/")]
    sizes = [Image.open(folder / m).size for m in drawn]
    assert sum(w != h for w, h in sizes) >= 0.65 * len(sizes)
    rows = [json.loads(line) for line in (folder / f"mix_{name}.jsonl").read_text().splitlines()]
    return [[a for _, a in _questions_and_answers(rows, picture)] for picture in drawn]


def _recorded_styles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The style of every shape shapes_varied draws from now on in this process (a mix drawn with one worker)."""
    from vreason.train import shapes_varied

    styles: list[str] = []
    draw = shapes_varied.draw
    monkeypatch.setattr(shapes_varied, "draw", lambda points, x, y, scale, style, stroke: styles.append(style) or
                        draw(points, x, y, scale, style, stroke))
    return styles


def test_the_styles_mix_borders_or_outlines_most_shapes_and_asks_colour_shape_and_count(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "styles", Mix("styled-varied", 60, ("count",), {"clip": 1, "any": 2}))
    write_mix(folder, "count", seed=9)
    styles = _recorded_styles(monkeypatch)
    groups = _groups(write_mix(folder, "styles", seed=15))  # drawn in this process (one worker)
    drawn = [m for m in groups if m.startswith("mixes/styles/")]
    assert 55 <= len(drawn) <= 60  # a picture whose shapes all share their colour has no colour question
    assert sum(m.endswith(".mp4") for m in groups) == 1  # its clips sampled as asked
    assert sum(s != "fill" for s in styles) > 0.6 * len(styles)  # 4 in 5 expected; the varied part's 2 in 5
    rows = [json.loads(line) for line in (folder / "mix_styles.jsonl").read_text().splitlines()]
    asked = {m: [a for _, a in _questions_and_answers(rows, m)] for m in drawn}
    only = [m for m, answers in asked.items() if all(a in SHAPES or a in PALETTE or a.isdigit() for a in answers)]
    assert len(only) > 0.3 * len(drawn)  # 6 in 13 pictures are asked only colour, shape or count


@pytest.mark.parametrize(("name", "new", "weighted_to"), [("styles-mixed", "styled-plain", "count"),
                                                          ("styles-boxes", "styled-plain-boxes", "boxes")])
def test_the_styles_mixed_mixes_draw_half_their_pictures_plain_and_border_most_shapes_of_the_rest(
        folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, new: str, weighted_to: str):
    monkeypatch.setitem(demo_v2_mixes.MIXES, name, Mix(new, 200, ("count",), {"any": 2}))
    write_mix(folder, "count", seed=9)
    styles = _recorded_styles(monkeypatch)
    groups = _groups(write_mix(folder, name, seed=15))
    drawn = [m for m in groups if m.startswith(f"mixes/{name}/")]
    plain = [m for m in drawn if _looks_plain(Image.open(folder / m).convert("RGB"))]
    assert 0.3 * len(drawn) <= len(plain) <= 0.7 * len(drawn)  # half drawn plain
    assert sum(s != "fill" for s in styles) > 0.6 * len(styles)  # the rest styled: 4 shapes in 5 not filled
    rows = [json.loads(line) for line in (folder / f"mix_{name}.jsonl").read_text().splitlines()]
    asked = {m: [a for _, a in _questions_and_answers(rows, m)] for m in plain}
    # the plain ones asked only a count or only boxes: 3 / 2 in 11 weighted to counting, 2 / 4 in 12 to boxes
    counted = sum(all(a.isdigit() for a in answers) for answers in asked.values())
    boxed = sum(all("bbox_2d" in a for a in answers) for answers in asked.values())
    assert (counted > boxed) if weighted_to == "count" else (boxed > counted)


@pytest.mark.parametrize(("base", "memory"), [("styled-plain", "styled-plain-memory"),
                                              ("plain-count-weighted", "plain-count-memory")])
def test_the_memory_mixes_draw_their_bases_pictures_and_ask_most_in_memorys_recalled_form(
        folder: Path, monkeypatch: pytest.MonkeyPatch, base: str, memory: str):
    from vreason.memory.prompt import NOTES_HEADER

    for name, new in (("base", base), ("memory", memory)):
        monkeypatch.setitem(demo_v2_mixes.MIXES, name, Mix(new, 100, ("count",), {"any": 2}))
    write_mix(folder, "count", seed=9)
    pictures = {}
    for name in ("base", "memory"):
        write_mix(folder, name, seed=15)
        media = sorted((folder / "mixes" / name / "media").iterdir())
        pictures[name] = [path.read_bytes() for path in media]
    assert pictures["memory"] == pictures["base"]  # the same pictures for a seed
    rows = [json.loads(line) for line in (folder / "mix_memory.jsonl").read_text().splitlines()]
    recalled = [r for r in rows if r.get("messages", [{}])[0].get("role") == "system"]
    assert all(r["messages"][0]["content"].startswith(NOTES_HEADER) for r in recalled)
    asked = {r["messages"][1]["content"][0]["image"] for r in recalled}
    assert all(m.startswith("mixes/memory/") for m in asked)
    assert 60 <= len(recalled) == len(asked) <= 95  # one such row for 4 in 5 pictures (those with shapes)
    assert NOTES_HEADER not in (folder / "mix_base.jsonl").read_text()  # the base kind asks none


def _same_pictures(folder: Path, monkeypatch: pytest.MonkeyPatch, kinds: dict[str, str], items: int) -> None:
    """Write a mix of each of `kinds` (name -> what it draws) with one seed, after a "count" mix they sample, and
    check they drew the same pictures: kinds that differ only in the questions they add."""
    for name, new in kinds.items():
        monkeypatch.setitem(demo_v2_mixes.MIXES, name, Mix(new, items, ("count",), {"any": 2}))
    write_mix(folder, "count", seed=9)
    for name in kinds:
        write_mix(folder, name, seed=15)
    media = [[p.read_bytes() for p in sorted((folder / "mixes" / n / "media").iterdir())] for n in kinds]
    assert media[0]
    assert all(m == media[0] for m in media)


def test_the_open_mix_draws_the_memory_mixs_pictures_and_asks_for_their_shapes_in_other_words(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    from collections import Counter

    from vreason.train.open_wordings import OPEN_WORDINGS
    from vreason.train.shapes_questions import DESCRIBE_QUESTIONS, described_shapes

    _same_pictures(folder, monkeypatch, {"memory": "styled-plain-memory", "open": "styled-plain-open"}, 100)
    pairs = _questions_and_answers([json.loads(line) for line in (folder / "mix_open.jsonl").read_text().splitlines()],
                                   "mixes/open/")
    wordings = {q.lower().rstrip("?.") for q in OPEN_WORDINGS}
    reworded = [(q, a) for q, a in pairs if q.lower().rstrip("?.") in wordings]
    assert 40 <= len(reworded) <= 80  # 3 in 5 pictures (those with shapes)
    assert all(described_shapes(a) for _, a in reworded)  # a list of the shapes, as "describe" answers
    unmarked = sum(q[-1] not in "?." for q, _ in reworded)
    assert 0.2 * len(reworded) <= unmarked <= 0.6 * len(reworded)
    assert len(Counter(q.lower().rstrip("?.") for q, _ in reworded)) >= 12
    assert not wordings & {q.lower().rstrip("?.") for q in DESCRIBE_QUESTIONS}
    memory_questions = {q for q, _ in _questions_and_answers(
        [json.loads(line) for line in (folder / "mix_memory.jsonl").read_text().splitlines()], "mixes/memory/")}
    assert not {q.lower().rstrip("?.") for q in memory_questions} & wordings  # the memory mix asks none


def test_the_second_open_mix_asks_half_its_open_rows_in_short_requests_and_the_first_none(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    from collections import Counter

    from vreason.train.open_wordings import OPEN_WORDINGS, SHORT_WORDINGS
    from vreason.train.shapes_questions import described_shapes

    _same_pictures(folder, monkeypatch, {"open": "styled-plain-open", "open-2": "styled-plain-open-2"}, 160)
    short = {q.lower().rstrip("?.") for q in SHORT_WORDINGS}
    longer = {q.lower().rstrip("?.") for q in OPEN_WORDINGS}
    asked = {}
    for name in ("open", "open-2"):
        rows = [json.loads(line) for line in (folder / f"mix_{name}.jsonl").read_text().splitlines()]
        asked[name] = [(q.lower().rstrip("?."), a) for q, a in _questions_and_answers(rows, f"mixes/{name}/")]
    assert not any(q in short for q, _ in asked["open"])  # the first round's rows stay as they were drawn
    first = [q for q, _ in asked["open"] if q in longer]
    second = [(q, a) for q, a in asked["open-2"] if q in short or q in longer]
    assert abs(len(second) - len(first)) <= 0.2 * len(first)  # as many pictures asked, 3 in 5 of those with shapes
    shorts = [(q, a) for q, a in second if q in short]
    assert 0.3 * len(second) <= len(shorts) <= 0.7 * len(second)
    assert len(Counter(q for q, _ in shorts)) >= 10
    assert all(described_shapes(a) for _, a in shorts)  # a list of the shapes, never a number


def test_the_count_repeated_mix_draws_pictures_whose_colours_are_counted_past_one(folder: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "count-repeated",
                        Mix("repeat-count-varied", 60, ("count",), {"clip": 1, "any": 2}))
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, "count-repeated", seed=13))
    drawn = [m for m in groups if m.startswith("mixes/count-repeated/")]
    assert len(drawn) == 60
    assert len({Image.open(folder / m).size for m in drawn}) > 5  # varied pictures
    assert sum(m.endswith(".mp4") for m in groups) == 1  # its clips sampled as asked
    rows = [json.loads(line) for line in (folder / "mix_count-repeated.jsonl").read_text().splitlines()]
    pairs = _questions_and_answers(rows, "mixes/count-repeated/")
    colour_counts = [int(a) for q, a in pairs if re.fullmatch(r"how many \w+ shapes are there\?", q)]
    assert len(colour_counts) >= 25  # weighted to counting: most pictures are asked it
    assert sum(n >= 2 for n in colour_counts) >= 0.4 * len(colour_counts)
    assert sum(a.isdigit() for _, a in pairs) > 0.4 * len(pairs)  # 7 in 18 pictures ask only "how many"


def test_the_count_tallied_mix_asks_boxes_and_numbers_of_one_colour_as_single_questions(
        folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "count-tallied",
                        Mix("tally-varied", 60, ("count",), {"clip": 1, "any": 2}))
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, "count-tallied", seed=13))
    drawn = [m for m in groups if m.startswith("mixes/count-tallied/")]
    assert 50 < len(drawn) <= 60  # a picture not tallied may have no answerable question of its family
    assert sum(m.endswith(".mp4") for m in groups) == 1
    rows = [json.loads(line) for line in (folder / "mix_count-tallied.jsonl").read_text().splitlines()]
    ours = [r for r in rows if "mixes/count-tallied/" in json.dumps(r)]
    boxes = {r["image"]: len(json.loads(r["answer"])) for r in ours
             if re.fullmatch(r"locate every \w+ shape and output bbox_2d in json\.", r.get("question", "").lower())}
    counts = {r["image"]: int(r["answer"]) for r in ours
              if re.fullmatch(r"how many \w+ shapes are there\?", r.get("question", "").lower())}
    assert len(boxes) >= 20  # 3 in 5 pictures tallied
    tallied = [m for m in boxes if m in counts]
    assert len(tallied) >= 20
    assert all(boxes[m] == counts[m] for m in tallied)  # the number is the boxes'
    assert sum(counts[m] >= 2 for m in tallied) >= 0.3 * len(tallied)
    # a tallied picture's questions are single rows: no conversation could show its boxes before its count
    conversations = [json.dumps(r) for r in ours if "messages" in r]
    assert conversations  # the pictures not tallied are asked in conversations too
    assert not any(re.search(r"locate every \w+ shape and output bbox_2d", c, re.IGNORECASE) for c in conversations)


def _looks_plain(image: Image.Image) -> bool:
    width, height = image.size
    return width == height and width in (64, 96, 128, 160, 192, 224, 256) and len(image.getcolors(4096) or []) <= 8


def test_the_second_tallied_mix_draws_some_tallied_pictures_plain(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "count-tallied-2", Mix("tally-mixed", 80, ("count",), {"any": 2}))
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, "count-tallied-2", seed=13))
    drawn = [m for m in groups if m.startswith("mixes/count-tallied-2/")]
    # a plain picture is square, of the plain scenes' sides, one flat colour per shape on a flat background; a
    # varied one seldom is all of those (1 in 116 drawn without plain ones)
    plain = [m for m in drawn if _looks_plain(Image.open(folder / m).convert("RGB"))]
    assert 0.1 * len(drawn) <= len(plain) <= 0.4 * len(drawn)  # 2 in 5 of the 3 in 5 tallied
    rows = [json.loads(line) for line in (folder / "mix_count-tallied-2.jsonl").read_text().splitlines()]
    tallied = {r["image"] for r in rows if re.fullmatch(r"locate every \w+ shape and output bbox_2d in json\.",
                                                        r.get("question", "").lower())}
    assert tallied & set(plain)
    kind_count = re.compile(r"how many (circle|rectangle|triangle|star|hexagon)s are there\?")
    assert any(r.get("image") in tallied and kind_count.fullmatch(r["question"].lower()) and r["answer"] == "0"
               for r in rows)  # the kind counted may be one not there


def test_the_focused_tally_mix_tallies_every_picture_it_draws(folder: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(demo_v2_mixes.MIXES, "count-tallied-focus", Mix("tally-focus", 40, ("count",), {"any": 1}))
    write_mix(folder, "count", seed=9)
    groups = _groups(write_mix(folder, "count-tallied-focus", seed=13))
    drawn = {m for m in groups if m.startswith("mixes/count-tallied-focus/")}
    rows = [json.loads(line) for line in (folder / "mix_count-tallied-focus.jsonl").read_text().splitlines()]
    tallied = {r["image"] for r in rows if re.fullmatch(r"locate every \w+ shape and output bbox_2d in json\.",
                                                        r.get("question", "").lower())}
    assert len(drawn) == 40
    assert tallied == drawn
    plain = sum(_looks_plain(Image.open(folder / m).convert("RGB")) for m in drawn)
    assert 0.15 * len(drawn) <= plain <= 0.65 * len(drawn)  # 2 in 5


def test_rewriting_the_second_stage_data_drops_every_mix(folder: Path):
    """A mix samples all_train.jsonl and draws its scenes in the varied format of its day: kept across a rewrite,
    its questions would be paired with the rewritten pictures of the same names."""
    write_mix(folder, "count", seed=9)
    assert (folder / "mixes" / "count" / "media").is_dir()
    write_data(folder, V2Config(varied_scenes=5, plain_scenes=3, clips=2, easy_vqa=False))
    assert not list(folder.glob("mix_*.jsonl"))
    assert not (folder / "mixes").exists()


def test_a_mix_that_samples_another_needs_it_written_first(folder: Path):
    with pytest.raises(ValueError, match="write mix 'changes' first"):
        write_mix(folder, "clips", seed=1)


def test_follow_ups_are_named_by_mix_and_parsed_from_the_command_line():
    with pytest.raises(ValueError, match="unknown mix"):
        FollowUp("counting", 10, 1e-4)
    assert _follow_ups(["changes:300:1e-4", "clips:340:1e-4:201"]) == (
        FollowUp("changes", 300, 1e-4), FollowUp("clips", 340, 1e-4, stop_after=201))
    assert _follow_ups(["candidate"]) == CANDIDATE_FOLLOW_UPS
    assert [f.mix for f in CANDIDATE_FOLLOW_UPS] == ["changes", "clips", "count", "count-focus"]
    with pytest.raises(SystemExit, match="MIX:STEPS:LR"):
        _follow_ups(["count:many:1e-4"])


def test_the_command_line_sets_the_second_stages_data_sizes_and_follow_ups_alone():
    from vreason.train.demo_recipe import parser, v2_config

    v2 = v2_config(parser().parse_args(["--v2-steps", "--v2-varied-scenes", "3000", "--v2-plain-scenes", "1000",
                                        "--v2-clips", "1500", "--v2-follow-ups", "count:400:1e-4",
                                        "count-plain:200:5e-5", "--workers", "2"]))
    assert (v2.varied_scenes, v2.plain_scenes, v2.clips, v2.workers) == (3000, 1000, 1500, 2)
    assert (v2.steps, v2.learning_rates, v2.train_vision) == ((), (), ())
    assert v2.follow_ups == (FollowUp("count", 400, 1e-4), FollowUp("count-plain", 200, 5e-5))
    default = v2_config(parser().parse_args([]))
    assert (default.varied_scenes, default.clips, default.steps) == (12000, 6000, V2Config.steps)


def test_a_follow_up_that_samples_a_later_mix_is_refused_before_anything_trains():
    with pytest.raises(SystemExit, match="samples mix 'changes': put a 'changes' follow-up before it"):
        _follow_ups(["clips:340:1e-4", "changes:300:1e-4"])
    with pytest.raises(ValueError, match="samples mix 'count'"):
        V2Config(follow_ups=(FollowUp("count-focus", 10, 1e-4),))
    assert V2Config(follow_ups=CANDIDATE_FOLLOW_UPS).follow_ups == CANDIDATE_FOLLOW_UPS


def test_the_card_tells_each_follow_up_and_a_run_stopped_early():
    from vreason.train.demo_card import _follow_ups_line

    line = _follow_ups_line([
        {"mix": "clips", "steps": 201, "planned_steps": 340, "learning_rate": 1e-4, "train_loss": 0.375},
        {"mix": "count", "steps": 400, "planned_steps": 400, "learning_rate": 1e-4, "train_loss": 0.449}])
    assert "2 follow-up runs" in line
    assert "every clip with 2,500 sampled pictures: 201 of 340 planned steps at lr 0.0001" in line
    assert "counting, with 4,500 sampled pictures and clips: 400 steps at lr 0.0001" in line
    assert _follow_ups_line([]) == ""


def test_the_card_says_a_mix_trained_again_is_the_same_data_again():
    from vreason.train.demo_card import _follow_ups_line

    run = {"steps": 300, "planned_steps": 300, "learning_rate": 7e-5, "train_loss": 0.3}
    line = _follow_ups_line([{**run, "mix": "count"}, {**run, "mix": "clips"}, {**run, "mix": "count"}])
    assert line.count("new varied scenes weighted to counting") == 1
    assert "; then follow-up 1's mix again (the same data, in another order): 300 steps at lr 7e-05" in line
    assert "every clip with 2,500 sampled pictures" in line


def test_the_recipe_can_run_follow_ups_alone(tmp_path: Path):
    from vreason.train.demo_recipe import RecipeConfig, build

    assert V2Config(steps=(), learning_rates=(), train_vision=(),
                    follow_ups=(FollowUp("count", 10, 1e-4),)).steps == ()
    with pytest.raises(ValueError, match="needs a run or a follow-up"):
        build(RecipeConfig(out=tmp_path / "out", work=tmp_path / "work", evaluate=False,
                           v2=V2Config(steps=(), learning_rates=(), train_vision=()), from_model=tmp_path / "model"))


def test_a_reused_work_folder_whose_second_stage_data_has_other_sizes_is_refused(tmp_path: Path):
    """--reuse keeps recorded stages; second-stage data of other sizes would train on data the card misdescribes."""
    from vreason.train.demo_recipe import RecipeConfig, build
    from vreason.train.demo_stages import STAGE_RECORD

    data = tmp_path / "work" / "v2-data"
    data.mkdir(parents=True)
    (data / STAGE_RECORD).write_text(json.dumps({"result": 10, "seconds": 1.0, "machine": "m",
                                                 "sizes": {"varied_scenes": 30, "plain_scenes": 10, "clips": 15}}))
    v2 = V2Config(varied_scenes=40, plain_scenes=10, clips=15, steps=(), learning_rates=(), train_vision=(),
                  follow_ups=(FollowUp("count", 10, 1e-4),))
    with pytest.raises(ValueError, match=r"second-stage data of other sizes .*'varied_scenes': 30.*use another --work"):
        build(RecipeConfig(out=tmp_path / "out", work=tmp_path / "work", evaluate=False, reuse=True, v2=v2,
                           from_model=tmp_path / "model"))


def test_every_mix_is_described_and_samples_only_mixes_written_before_it():
    names = list(demo_v2_mixes.MIXES)
    for k, (name, mix) in enumerate(demo_v2_mixes.MIXES.items()):
        assert MIX_WORDS.get(name), f"{name} has no words for the model card"
        for source in mix.sources:  # a follow-up run writes its mix from files that exist by then
            assert source == "all" or source in names[:k], f"{name} samples {source}, not a mix defined before it"
        if mix.new.endswith("-clips"):
            assert mix.new in demo_v2_draw.CLIP_KINDS
