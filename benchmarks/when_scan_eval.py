""""When does the {colour} {shape} appear / disappear?" on the card's held-out clips: asked of the model directly
(as `make eval-demo` asks it), and answered by the frame scan of `vreason when` (reasoning/video_when.py).

    .venv/bin/python benchmarks/when_scan_eval.py [--clips 300] [--model DIR] [--every 0.5] [--json F]

The rows are the card's "when" rows (clips_eval.write_clips_eval with demo_eval's CLIPS_SEED: held-out sizes,
frame rates, lengths), scored as the card scores them: the whole second, exact and within 1 s. Arms:
- "asked": the question as the card asks it (the model places the change among the frames it sees and writes a
  number);
- "scan, named": `when_in_video(vr, clip, "{colour} {shape}")`, the first appearance (or disappearance) floored
  to its second: the model only answers "is there a {colour} {shape} in the image?" of single frames;
- "scan, by colour": the same with the target "{colour} shape" (every shape of a clip has its own colour, so
  the colour alone names it): the presence question the model was trained on (shapes_questions' presence family asks
  about a colour or a shape, never both).
Each row prints its 95% Wilson interval, frames checked per clip and seconds per clip.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path

from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.clips_eval import write_clips_eval
from vreason.train.demo_eval import CLIPS_SEED
from vreason.train.finetune import normalize_answer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

QUESTION = re.compile(r"when does the (?P<colour>\w+) (?P<shape>\w+) (?P<event>appear|disappear)\?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--model", default=None, help="checkpoint folder (default: the built-in model)")
    parser.add_argument("--every", type=float, default=0.5, help="the scan's first-pass spacing, seconds")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from vreason import VReason
    from vreason.reasoning.video_when import when_in_video

    print(f"CPU: {cpu_summary(SYSTEM_FLAGS)}; torch threads: {torch.get_num_threads()}")
    vr = VReason(args.model)
    arms = {"asked": [], "scan, named": [], "scan, by colour": []}
    checks = {arm: 0 for arm in arms}
    seconds = {arm: 0.0 for arm in arms}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_clips_eval(folder, args.clips, seed=CLIPS_SEED, kinds=("clip_when",))
        rows = [json.loads(line) for line in (folder / "clips_eval.jsonl").open()]
        for row in rows:
            clip = str(folder / row["video"])
            asked = QUESTION.fullmatch(row["question"].lower())
            started = time.perf_counter()
            said = normalize_answer(vr.ask(None, row["question"], video=clip, temperature=0.0, presence_penalty=0.0,
                                           max_new_tokens=8).text)
            seconds["asked"] += time.perf_counter() - started
            arms["asked"].append(_number(said))
            for arm, target in (("scan, named", f"{asked['colour']} {asked['shape']}"),
                                ("scan, by colour", f"{asked['colour']} shape")):
                started = time.perf_counter()
                found = when_in_video(vr, clip, target, every_s=args.every)
                seconds[arm] += time.perf_counter() - started
                checks[arm] += len(found.checks)
                times = found.appears_s if asked["event"] == "appear" else found.disappears_s
                arms[arm].append(math.floor(times[0] + 1e-6) if times else None)
        truths = [int(r["answer"]) for r in rows]
    vr.close()

    report = {"clips": len(rows), "every_s": args.every, "cpu": cpu_summary(SYSTEM_FLAGS), "arms": {}}
    print(f"\n{len(rows)} held-out \"when\" questions (seed {CLIPS_SEED}); model: {args.model or 'built-in'}")
    print(f"{'arm':<18} {'exact':>7} {'95% CI':>15} {'within 1 s':>11} {'95% CI':>15} {'frames/clip':>12} "
          f"{'s/clip':>7}")
    for arm, said in arms.items():
        exact = sum(s == t for s, t in zip(said, truths, strict=True))
        near = sum(s is not None and abs(s - t) <= 1 for s, t in zip(said, truths, strict=True))
        (el, eh), (nl, nh) = wilson(exact / len(rows), len(rows)), wilson(near / len(rows), len(rows))
        frames = checks[arm] / len(rows) if arm != "asked" else None
        shown = "-" if frames is None else f"{frames:.1f}"
        print(f"{arm:<18} {exact / len(rows):>7.3f} {f'{el:.3f}-{eh:.3f}':>15} {near / len(rows):>11.3f} "
              f"{f'{nl:.3f}-{nh:.3f}':>15} {shown:>12} {seconds[arm] / len(rows):>7.2f}")
        report["arms"][arm] = {"exact": exact / len(rows), "within_1s": near / len(rows),
                               "frames_per_clip": frames,
                               "seconds_per_clip": seconds[arm] / len(rows)}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


def _number(text: str) -> int | None:
    try:
        return math.floor(float(text))
    except ValueError:
        return None


if __name__ == "__main__":
    main()
