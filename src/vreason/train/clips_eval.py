"""Held-out clip questions and their scoring: one question a row, of each family the demo model's card reports
(`EVAL_KINDS`), on clips of the held-out split (shapes_clips.HELD_OUT: other sizes, frame rates, lengths and
speeds than training), and exact match per family ("when" also right within a second).

    write_clips_eval(out, per_kind=50, seed=1)   # out/clips_eval.jsonl, one question a row, "kind" field
    evaluate_clips(VReason(model), rows, out)    # exact match per kind, clip_when also within_1s; rows with
                                                 # a "said" answer: the share of predictions that are it
    python -m vreason.train.clips_eval --out data/clips --per-kind 50 [--seed 1]
"""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections import defaultdict
from pathlib import Path

from vreason.media.video_types import SAMPLING_KEYS
from vreason.train.shapes_clips import HELD_OUT, TRAIN, ClipWorld, encode

EVAL_KINDS = ("clip_appear", "clip_disappear", "clip_when", "clip_move", "clip_count")
_EVAL_EVENTS = {"clip_appear": ("appear1",), "clip_disappear": ("disappear",), "clip_when": ("appear", "disappear"),
                "clip_move": ("move",), "clip_count": ("appear", "appear0", "disappear", "move")}


def write_clips_eval(out: Path, per_kind: int, seed: int, held_out: bool = True,
                     kinds: tuple[str, ...] = EVAL_KINDS) -> int:
    """`per_kind` single-question rows of each EVAL_KINDS kind, one clip each, into out/clips_eval.jsonl
    (`kind` field); held-out clips (HELD_OUT) unless `held_out` is False; only the rows of `kinds` are written
    (and their clips encoded), the same rows as in the whole set. Returns rows written. `vreason eval --data
    out/clips_eval.jsonl` reads them too (per-kind accuracy, "when" right within 1 s)."""
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    world, rng = ClipWorld(seed, HELD_OUT if held_out else TRAIN), random.Random(seed)
    tag = "h" if held_out else "e"
    rows = 0
    with (out / "clips_eval.jsonl").open("w") as handle:
        for kind in EVAL_KINDS:
            written = index = 0
            while written < per_kind:
                events = _EVAL_EVENTS[kind]
                clip = world.clip(index, events[index % len(events)])
                index += 1
                qas = [qa for qa in clip.qas if qa[0] == kind]
                if not qas:  # e.g. a clip where nothing appears is asked how many appear only some of the time
                    continue
                written += 1
                _, question, answer = rng.choice(qas)
                if kind not in kinds:  # drawn all the same: the rows of later kinds stay those of the whole set
                    continue
                name = f"clips/{tag}{seed}_{kind}_{index - 1:05d}.mp4"
                encode(clip, out / name)
                # answer_type: how `vreason eval` scores the row (a time: right within 1 s; else exact match)
                row = {"video": name, "question": question, "answer": answer, "kind": kind,
                       "answer_type": "time" if kind == "clip_when" else "exact"}
                handle.write(json.dumps(row) + "\n")
                rows += 1
    return rows


def _timed(kind: str) -> bool:
    return kind == "clip_when" or kind.endswith("/when")


def evaluate_clips(vr, rows: list[dict], base: Path) -> dict:
    """Greedy answers to clip rows: exact match per `kind`; for clip_when (and kinds ending "/when") also
    `within_1s` (|pred - true| <= 1);
    for rows with a `said` answer, the share of that kind's predictions that are it (`said`: {normalised answer:
    share}; e.g. how often shapes that are on screen were called "not there"). A row's `max_new_tokens` (default
    8: every evaluated answer is a few words or a number) lets longer training-only answers be scored whole."""
    from vreason.train.finetune import normalize_answer

    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    started = time.perf_counter()
    for row in rows:
        video = row["video"] if Path(row["video"]).is_absolute() else str(Path(base) / row["video"])
        options = {key: row[key] for key in SAMPLING_KEYS if key in row}  # as a training row samples it
        source = {"video": video, **options} if options else video
        answer = vr.ask(None, row["question"], video=source, temperature=0.0, presence_penalty=0.0,
                        max_new_tokens=row.get("max_new_tokens", 8))
        s = stats[row.get("kind", "all")]
        predicted, expected = normalize_answer(answer.text), normalize_answer(row["answer"])
        s["count"] += 1
        s["exact"] += predicted == expected
        if "said" in row:
            said = normalize_answer(row["said"])
            s["said:" + said] += predicted == said
        if _timed(row.get("kind", "")):
            with contextlib.suppress(ValueError):  # an answer that is not a number is not within a second
                s["within_1s"] += abs(float(predicted) - float(expected)) <= 1
    report: dict = {}
    for kind, s in sorted(stats.items()):
        report[kind] = {"count": int(s["count"]), "exact_match": s["exact"] / s["count"]}
        if _timed(kind):
            report[kind]["within_1s"] = s["within_1s"] / s["count"]
        said = {key.removeprefix("said:"): value / s["count"] for key, value in s.items() if key.startswith("said:")}
        if said:
            report[kind]["said"] = said
    report["_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Write held-out shapes-world clip questions (clips_eval.jsonl).")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--per-kind", type=int, required=True, help="rows of each kind")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = write_clips_eval(args.out, args.per_kind, args.seed)
    print(f"{rows} evaluation rows (held out) in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
