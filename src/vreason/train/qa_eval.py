"""Score a model on question-answer JSONL rows (short form, optional "kind"): exact match per kind, and for
grounding answers the IoU of each predicted box with the expected one (hit when IoU >= 0.5). A "json" answer
matches when it parses to the same JSON value as the expected one (spacing and key order aside). "describe"
answers (a list of the shapes, left to right; "describe-..." families ask for it in other words) also report
`list_form`, the share that are such a list at all (not a number or "no"), `same_shapes`, the share naming
the right shapes with their colours in any order, and `number`, the share that are a bare number instead.
"count" answers also report `many_count` and `many_exact_match`: the questions of the shapes-world forms that count
one colour or one kind ("how many red shapes are there?", "how many stars are there?"; not "how many shapes are
there?") where two or more are there, and the share right. The built-in model undercounts them (benchmarks/
RESULTS.md, "Where the independent count goes wrong"), which the family's number alone hides: they are about a
tenth of its questions.

    python -m vreason.train.qa_eval --model DIR --data eval.jsonl [--limit N] [--out metrics.json]

A plain script until `vreason eval` exists; the demo model's model card numbers come from it.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from vreason.reasoning.grounding import iou, parse_detections
from vreason.train.finetune import normalize_answer
from vreason.train.shapes_questions import described_shapes

IOU_HIT = 0.5
# the shapes-world forms that count one colour ("how many red shapes are there?") or one kind ("how many stars are
# there?"); "how many shapes are there?" counts them all
ONE_COLOUR_OR_KIND = re.compile(r"how many (?:(?!shapes\b)\w+s|\w+ shapes) are there\?")
JSON_TOKENS = 128  # a JSON list of five shapes is about 80 tokens of the demo model's tokenizer


def parse_boxes(text: str) -> list[tuple[float, float, float, float]]:
    return [d.box for d in parse_detections(text) if d.box is not None]


def same_answer(kind: str, predicted: str, expected: str) -> bool:
    if kind == "json":
        try:
            return json.loads(predicted) == json.loads(expected)
        except ValueError:  # not JSON at all
            return False
    return normalize_answer(predicted) == normalize_answer(expected)


def counts_many(row: dict) -> bool:
    """A count question about one colour or one kind whose answer is two or more."""
    answer = str(row["answer"]).strip()
    asked = ONE_COLOUR_OR_KIND.fullmatch(row["question"].strip().lower())
    return asked is not None and answer.isdigit() and int(answer) >= 2


def evaluate(vr, rows: list[dict], base: Path, progress: bool = True) -> dict:
    stats: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    started = time.perf_counter()
    with Progress(console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("evaluating", total=len(rows))
        for row in rows:
            image = row["image"] if Path(row["image"]).is_absolute() else str(base / row["image"])
            kind = row.get("kind", "all")
            answer = vr.ask(image, row["question"], temperature=0.0, presence_penalty=0.0,
                            max_new_tokens=JSON_TOKENS if kind == "json" else 64)
            s = stats[kind]
            s["count"] += 1
            s["exact"] += same_answer(kind, answer.text, row["answer"])
            if kind == "grounding":
                expected = parse_boxes(row["answer"])
                predicted = parse_boxes(answer.text)
                if expected and predicted:
                    overlap = iou(predicted[0], expected[0])
                    s["iou_sum"] += overlap
                    s["iou_hits"] += overlap >= IOU_HIT
            if kind == "count" and counts_many(row):
                s["many"] += 1
                s["many_exact"] += same_answer(kind, answer.text, row["answer"])
            if kind.startswith("describe"):
                named = described_shapes(answer.text)
                s["list_form"] += named is not None
                s["same_shapes"] += named is not None and named == described_shapes(row["answer"])
                s["number"] += answer.text.strip().rstrip(".").isdigit()
            bar.advance(task)
    report = {}
    for kind, s in sorted(stats.items()):
        entry = {"count": int(s["count"]), "exact_match": s["exact"] / s["count"]}
        if kind == "grounding":
            entry["iou_at_0.5"] = s["iou_hits"] / s["count"]
            entry["mean_iou"] = s["iou_sum"] / s["count"]
        if s["many"]:
            entry["many_count"] = int(s["many"])
            entry["many_exact_match"] = s["many_exact"] / s["many"]
        if kind.startswith("describe"):
            entry["list_form"] = s["list_form"] / s["count"]
            entry["same_shapes"] = s["same_shapes"] / s["count"]
            entry["number"] = s["number"] / s["count"]
        report[kind] = entry
    report["_seconds"] = round(time.perf_counter() - started, 1)
    return report


def main() -> None:
    from vreason import VReason

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out")
    args = parser.parse_args()
    path = Path(args.data)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][: args.limit]
    report = evaluate(VReason(args.model), rows, path.parent)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
