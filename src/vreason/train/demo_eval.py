"""Measure the shipped demo model against its quality bar, from nothing but the package and easy-vqa:

    python -m vreason.train.demo_eval [--model DIR] [--easy-vqa-limit N] [--out metrics.json] [--eval-dir DIR]
    (make eval-demo)

Bar: >= 98% exact match on all 9,673 easy-VQA test questions (1,000 images never trained on); >= 90% on
held-out shapes-world counting and position questions; IoU >= 0.5 on >= 90% of held-out single-object
grounding questions. The held-out scenes come from a seed the training data never uses.
The easy-VQA number comes from the evaluation harness, the same run as `vreason eval --data easy-vqa:test`
(--eval-dir keeps its predictions and report).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vreason.train.demo_data import write_shapes_eval

EVAL_SEED = 1001  # the recipe trains on seed 1
BAR = {"easy_vqa": ("exact_match", 0.98), "count": ("exact_match", 0.90), "position": ("exact_match", 0.90),
       "grounding": ("iou_at_0.5", 0.90)}


def run(model: str | None, easy_vqa_limit: int | None, per_kind: int = 200, eval_dir: str | None = None) -> dict:
    from vreason import VReason
    from vreason.eval import evaluate as evaluate_dataset
    from vreason.eval import load_dataset
    from vreason.train.qa_eval import evaluate

    vr = VReason(model)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        write_shapes_eval(data, per_kind, seed=EVAL_SEED)
        shapes = [json.loads(line) for line in (data / "eval.jsonl").read_text().splitlines()]
        report = evaluate(vr, shapes, data)
        easy = evaluate_dataset(vr, load_dataset("easy-vqa:test", limit=easy_vqa_limit),
                                Path(eval_dir) if eval_dir else data / "easy-vqa", data="easy-vqa:test")
        report["easy_vqa"] = {"count": easy.metrics["count"], "exact_match": easy.metrics["exact_match"]}
    return report


def print_report(report: dict) -> None:
    table = Table(title="demo model quality (greedy)")
    for col in ("questions", "count", "exact match", "IoU>=0.5", "bar", "meets"):
        table.add_column(col, justify="right")
    for kind, entry in report.items():
        if kind.startswith("_"):
            continue
        metric, target = BAR.get(kind, (None, None))
        value = entry.get(metric) if metric else None
        meets = "-" if value is None else ("yes" if value >= target else "NO")
        iou = entry.get("iou_at_0.5")
        table.add_row(kind, str(entry["count"]), f"{entry['exact_match']:.3f}", "-" if iou is None else f"{iou:.3f}",
                      "-" if target is None else f"{metric} >= {target}", meets)
    Console().print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate the demo model against its quality bar.")
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--easy-vqa-limit", type=int)
    parser.add_argument("--out")
    parser.add_argument("--eval-dir", help="keep the easy-VQA predictions, metrics and report here (resumable)")
    args = parser.parse_args()
    report = run(args.model, args.easy_vqa_limit, eval_dir=args.eval_dir)
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
