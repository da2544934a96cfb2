"""Measure the shipped demo model against its quality bar, from nothing but the package and easy-vqa:

    python -m vreason.train.demo_eval [--model DIR] [--easy-vqa-limit N] [--out metrics.json] [--eval-dir DIR]
                                      [--per-kind N] [--independent-per-kind N] [--varied-per-kind N]
                                      [--clips-per-kind N] [--independent-clips-per-kind N] [--scenes3d N]
                                      [--skip-easy-vqa]
    (make eval-demo)

Bar: >= 98% exact match on all 9,673 easy-VQA test questions (1,000 images never trained on); >= 90% on
held-out shapes-world counting and position questions; IoU >= 0.5 on >= 90% of held-out single-object
grounding questions. The held-out scenes come from a seed the training data never uses.
The same families are also asked about pictures of an independent renderer (vreason.eval.shapes_independent:
other drawing code, shades, outlines, rotation, backgrounds and sizes), reported as "independent/<family>":
>= 97% on colour and shape, >= 90% on counting and position, IoU >= 0.5 on >= 85% of single-object boxes.
Varied pictures from the training generator (`ShapesWorld(varied=True)`, held-out seed 1002: every family,
open "describe" and "json" answers included) are reported as "varied/<family>", and held-out clips
(shapes_clips.py: other sizes, frame rates and speeds than training) as "clip_<family>": >= 90% on appear,
disappear, move and count, "when" right within a second >= 85%. The same clip families asked about clips drawn by
independent code (eval/clips_independent.py) are reported as "independent/clip_<family>", without a bar of
their own: the issue's clip bars are on the held-out clips.
3D scenes (train/scenes3d_eval.py: colour, count and lifted 3D boxes on the bird's-eye view) from the generator
the model may train on, held-out seeds, as "3d/<family>", and from the independent scan simulator
(eval/scenes_independent.py) as "3d-independent/<family>": colour >= 90%, count >= 85%, boxes at 3D IoU >= 0.25
for >= 80% of targets.
The easy-VQA number comes from the evaluation harness, the same run as `vreason eval --data easy-vqa:test`
(--eval-dir keeps its predictions and report).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from vreason.train.demo_data import write_shapes_eval
from vreason.train.scenes3d_eval import BAR as SCENES3D_BAR

EVAL_SEED = 1001  # the recipe trains on seed 1
INDEPENDENT_SEED = 2002  # the independent renderer is never trained on; any seed is held out
# Questions per family on the held-out seed: at 200 the 95% band is about 4 points either side, and run 37 counted
# 0.905 on 200 but 0.897 on 1,000 (run 40: 0.89 / 0.902): a bar at 0.90 was inside the noise
PER_KIND = 1000
INDEPENDENT = "independent/"  # report keys of the independent renderer's families
# 400 questions a family: the 95% interval near 0.9 is about 3 points either side, so the bar is outside the noise
INDEPENDENT_PER_KIND = 400
BAR = {"easy_vqa": ("exact_match", 0.98), "count": ("exact_match", 0.90), "position": ("exact_match", 0.90),
       "grounding": ("iou_at_0.5", 0.90),
       f"{INDEPENDENT}color": ("exact_match", 0.97), f"{INDEPENDENT}shape": ("exact_match", 0.97),
       f"{INDEPENDENT}count": ("exact_match", 0.90), f"{INDEPENDENT}position": ("exact_match", 0.90),
       f"{INDEPENDENT}grounding": ("iou_at_0.5", 0.85),
       "clip_appear": ("exact_match", 0.90), "clip_disappear": ("exact_match", 0.90),
       "clip_move": ("exact_match", 0.90), "clip_count": ("exact_match", 0.90), "clip_when": ("within_1s", 0.85)}
VARIED_SEED = 1002  # the training generator's varied pictures, held out (the second stage trains on 21-24)
VARIED = "varied/"
CLIPS_SEED = 3003  # held-out clips (other sizes, frame rates and speeds than the training clips)
# 300 clips a family: at 100 the 95% interval near 0.9 is 6 points either side (a model at 0.927 on 300 read 0.93,
# one at 0.893 read 0.87); at 300 about 3.4, with ~4 minutes of clips on two cores
CLIPS_PER_KIND = 300
INDEPENDENT_CLIPS_SEED = 4004  # eval/clips_independent.py's clips (no seed of it is ever trained on)
SCENES3D = "3d/"  # held-out 3D scenes of spatial/scenes.py (training draws other seeds)
SCANS3D = "3d-independent/"  # eval/scenes_independent.py's simulated scans
# the 3D bars are scenes3d_eval's, the same for both generators (boxes are scored by the share found)
BAR |= {prefix + kind: ("iou_at_0.25" if kind == "box3d" else "exact_match", bar)
        for prefix in (SCENES3D, SCANS3D) for kind, bar in SCENES3D_BAR.items()}


def run(model: str | None, easy_vqa_limit: int | None, per_kind: int = PER_KIND, eval_dir: str | None = None,
        independent_per_kind: int = INDEPENDENT_PER_KIND, easy_vqa: bool = True, varied_per_kind: int = 200,
        clips_per_kind: int = CLIPS_PER_KIND, scenes3d: int = 100,
        independent_clips_per_kind: int = CLIPS_PER_KIND) -> dict:
    """Every family on the training generator's held-out seed (`per_kind` each; 0 skips them), the same families
    on the independent renderer (`independent_per_kind` each, keys "independent/<family>"; 0 skips them), on the
    training generator's varied pictures (`varied_per_kind`, keys "varied/<family>"), held-out clips
    (`clips_per_kind`, keys "clip_<family>"), clips of the independent clip renderer (`independent_clips_per_kind`,
    keys "independent/clip_<family>"), `scenes3d` 3D scenes of each generator (keys "3d/<family>" and
    "3d-independent/<family>"), and easy-VQA's test split (unless `easy_vqa` is False)."""
    from vreason import VReason
    from vreason.eval import evaluate as evaluate_dataset
    from vreason.eval import load_dataset
    from vreason.eval.clips_independent import write_independent_clips
    from vreason.eval.shapes_independent_qa import write_independent_eval
    from vreason.train.clips_eval import evaluate_clips, write_clips_eval
    from vreason.train.qa_eval import evaluate
    from vreason.train.scenes3d_eval import evaluate_scenes, summarize

    vr = VReason(model)
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        if per_kind:
            write_shapes_eval(data / "shapes", per_kind, seed=EVAL_SEED)
            report |= evaluate(vr, _rows(data / "shapes" / "eval.jsonl"), data / "shapes")
        if independent_per_kind:
            rows = _rows(write_independent_eval(data / "independent", independent_per_kind, seed=INDEPENDENT_SEED))
            independent = evaluate(vr, rows, data / "independent")
            report["_independent_seconds"] = independent.pop("_seconds")
            report |= {INDEPENDENT + kind: entry for kind, entry in independent.items()}
        if varied_per_kind:
            write_shapes_eval(data / "varied", varied_per_kind, seed=VARIED_SEED, varied=True)
            varied = evaluate(vr, _rows(data / "varied" / "eval.jsonl"), data / "varied")
            report["_varied_seconds"] = varied.pop("_seconds")
            report |= {VARIED + kind: entry for kind, entry in varied.items()}
        if clips_per_kind:
            write_clips_eval(data / "clips", clips_per_kind, seed=CLIPS_SEED)
            clips = evaluate_clips(vr, _rows(data / "clips" / "clips_eval.jsonl"), data / "clips")
            report["_clips_seconds"] = clips.pop("_seconds")
            report |= clips
        if independent_clips_per_kind:
            written = write_independent_clips(data / "independent-clips", independent_clips_per_kind,
                                              seed=INDEPENDENT_CLIPS_SEED)
            clips = evaluate_clips(vr, _rows(written), data / "independent-clips")
            report["_independent_clips_seconds"] = clips.pop("_seconds")
            report |= {INDEPENDENT + kind: entry for kind, entry in clips.items()}
        for prefix, generator in ((SCENES3D, "scenes"), (SCANS3D, "independent")):
            if scenes3d:
                began = time.perf_counter()
                found = summarize(evaluate_scenes(vr, scenes3d, generator))
                report[f"_{generator}3d_seconds"] = round(time.perf_counter() - began, 1)
                report |= {prefix + kind: entry for kind, entry in found.items()}
        if easy_vqa:
            easy = evaluate_dataset(vr, load_dataset("easy-vqa:test", limit=easy_vqa_limit),
                                    Path(eval_dir) if eval_dir else data / "easy-vqa", data="easy-vqa:test")
            report["easy_vqa"] = {"count": easy.metrics["count"], "exact_match": easy.metrics["exact_match"]}
    return report


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def print_report(report: dict) -> None:
    table = Table(title="demo model quality (greedy)")
    for col in ("questions", "count", "exact match", "IoU>=0.5", "bar", "meets"):
        table.add_column(col, justify="right", no_wrap=col in ("questions", "meets"))
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
    parser.add_argument("--per-kind", type=int, default=PER_KIND,
                        help="questions per family on the training generator's held-out seed (0: none)")
    parser.add_argument("--independent-per-kind", type=int, default=INDEPENDENT_PER_KIND,
                        help="questions per family on the independent renderer (0: none)")
    parser.add_argument("--varied-per-kind", type=int, default=200,
                        help="questions per family on the training generator's held-out varied pictures (0: none)")
    parser.add_argument("--clips-per-kind", type=int, default=CLIPS_PER_KIND,
                        help="held-out clips per clip family (0: none)")
    parser.add_argument("--independent-clips-per-kind", type=int, default=CLIPS_PER_KIND,
                        help="clips per clip family drawn by the independent clip renderer (0: none)")
    parser.add_argument("--scenes3d", type=int, default=100,
                        help="held-out 3D scenes of each generator (0: none)")
    parser.add_argument("--skip-easy-vqa", action="store_true", help="leave out easy-VQA's 9,673 test questions")
    args = parser.parse_args()
    report = run(args.model, args.easy_vqa_limit, per_kind=args.per_kind, eval_dir=args.eval_dir,
                 independent_per_kind=args.independent_per_kind, easy_vqa=not args.skip_easy_vqa,
                 varied_per_kind=args.varied_per_kind, clips_per_kind=args.clips_per_kind, scenes3d=args.scenes3d,
                 independent_clips_per_kind=args.independent_clips_per_kind)
    print_report(report)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
