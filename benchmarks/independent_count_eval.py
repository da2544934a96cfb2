"""The built-in demo model's counting on the independent renderer's pictures, split by what is counted and how
many there are.

    .venv/bin/python benchmarks/independent_count_eval.py [--questions 300] [--seed 2002] [--model DIR] [--json F]
        [--pictures independent|training]

`make eval-demo` reports one number for "independent/count": three question forms ("how many shapes are there?",
"how many {shape}s are there?", "how many {colour} shapes are there?") over pictures of 1-4 shapes from
eval/shapes_independent.py (other drawing code than training; some shapes repeat in kind and colour). This asks
the same questions (the card's generator, `write_independent_eval(kinds=("count",))`, the card's seed by
default; other pictures than the card's 400, which come after the colour and shape ones) and splits the
exact-match score by question form and by the true answer, each row with its 95% Wilson interval, then
lists the commonest (true, said) pairs among the errors. It tells a model that counts from one that answers "1"
to "how many red shapes" whatever it sees.

`--pictures training` asks the same three forms about the training generator's own plain pictures instead
(`ShapesWorld`, held-out seed 1001 by default, its colours jittered as the follow-up mixes draw them): a count
lost there too is not learnt at all, rather than lost to another renderer.
"""

from __future__ import annotations

import json
import random
import re
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from vreason.eval.shapes_independent import COLORS
from vreason.train.demo_eval import EVAL_SEED
from vreason.train.finetune import normalize_answer
from vreason.train.shapes_world import ShapesWorld

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo_questions  # noqa: E402
from pointcloud_demo_eval import wilson  # noqa: E402

_COLOUR_QUESTION = re.compile(r"how many (\w+) shapes are there\?")


def question_form(question: str) -> str:
    """"all" (every shape), "colour" (shapes of one colour) or "kind" (one kind of shape)."""
    if question == "how many shapes are there?":
        return "all"
    asked = _COLOUR_QUESTION.fullmatch(question)
    return "colour" if asked and asked.group(1) in COLORS else "kind"


def breakdown(records: list[dict]) -> dict:
    """Exact match by question form, by true answer and by both; the errors' commonest (true, said) pairs."""
    split: dict[str, list[bool]] = defaultdict(list)
    for r in records:
        form = question_form(r["question"])
        for key in ("all forms", f"form {form}", f"answer {r['answer']}", f"form {form}, answer {r['answer']}"):
            split[key].append(r["right"])
    errors = Counter((r["answer"], r["said"]) for r in records if not r["right"])
    return {"rows": {key: {"count": len(v), "exact_match": sum(v) / len(v)} for key, v in split.items()},
            "errors": [{"true": t, "said": s, "count": n} for (t, s), n in errors.most_common(10)]}


def write_training_eval(out: Path, questions: int, seed: int) -> Path:
    """`questions` count questions (one per picture, drawn among the scene's three) about the training
    generator's plain pictures into out/eval.jsonl, as write_independent_eval writes its rows."""
    world, rng = ShapesWorld(seed, color_jitter=40), random.Random(seed + 1)
    (out / "images").mkdir(parents=True, exist_ok=True)
    target = out / "eval.jsonl"
    with target.open("w") as handle:
        for index in range(questions):
            scene = world.scene("count")
            qa = rng.choice(scene.qas)
            name = f"images/count{index:05d}.png"
            scene.image.save(out / name)
            handle.write(json.dumps({"image": name, "question": qa.question, "answer": qa.answer}) + "\n")
    return target


def main() -> None:
    args = demo_questions.parse_args(__doc__.split("\n\n")[0], 300, "held-out plain pictures", EVAL_SEED)

    from vreason.api import VReason

    vr = VReason(model=args.model)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        data = demo_questions.write_questions(args, Path(folder), "count", write_training_eval)
        for line in data.read_text().splitlines():
            row = json.loads(line)
            said = vr.ask(str(Path(folder) / row["image"]), row["question"], temperature=0.0,
                          presence_penalty=0.0, max_new_tokens=8).text
            records.append({"question": row["question"], "answer": row["answer"], "said": normalize_answer(said),
                            "right": normalize_answer(said) == normalize_answer(row["answer"])})
    report = breakdown(records)
    print("| asked | n | exact | 95% interval |")
    print("|---|---:|---:|---|")
    for key in sorted(report["rows"], key=lambda k: (k != "all forms", k.count(","), k)):
        row = report["rows"][key]
        low, high = wilson(row["exact_match"], row["count"])
        print(f"| {key} | {row['count']} | {row['exact_match']:.3f} | {low:.2f}-{high:.2f} |")
    print("errors, true -> said: " + ", ".join(f"{e['true']} -> {e['said']} x{e['count']}" for e in report["errors"]))
    if args.json:
        args.json.write_text(json.dumps({**report, "answers": records}, indent=1))


if __name__ == "__main__":
    main()
