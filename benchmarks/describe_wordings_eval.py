"""The built-in demo model's answers to an open question ("what is in the image?") per wording: the one wording
of the card's "independent/describe" family (a training wording) and each of the eight of "describe-reworded"
(`REWORDED_DESCRIBE`, words no training question uses), on the independent renderer's pictures.

    .venv/bin/python benchmarks/describe_wordings_eval.py [--questions 400] [--seed 2002] [--model DIR] [--json F]

It writes the card's whole independent set for the seed (`write_independent_eval`, `--questions` per family) and
asks only the two describe families, so with the defaults its rows are the card's own questions and its family
rows ("[describe]", "[describe-reworded]") the card's numbers. Each row: how often the answer is a list of shapes
at all (qa_eval's `list_form`), how often it names every shape with its colour (`same_shapes`), both with 95%
Wilson intervals, how often it is the card's exact answer, and how often it is a bare number instead. A model
that learnt the request answers every wording alike.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from vreason.eval.shapes_independent_qa import write_independent_eval
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.demo_eval import INDEPENDENT_PER_KIND, INDEPENDENT_SEED
from vreason.train.qa_eval import same_answer
from vreason.train.shapes_world import described_shapes

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

FAMILIES = ("describe", "describe-reworded")


def tally(records: list[dict]) -> dict[str, dict]:
    """Per wording, and per family over its wordings: n, list_form, same_shapes, exact_match, number."""
    split: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        split[r["question"]].append(r)
        split[f"[{r['kind']}]"].append(r)
    return {key: {"count": len(rows), **{name: sum(r[field] for r in rows) / len(rows) for name, field in (
        ("list_form", "list"), ("same_shapes", "same"), ("exact_match", "exact"), ("number", "number"))}}
        for key, rows in split.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=INDEPENDENT_PER_KIND, help="per family (the card's: 400)")
    parser.add_argument("--seed", type=int, default=INDEPENDENT_SEED)
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write the report (and every answer) here")
    args = parser.parse_args()
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; "
          f"pictures: independent, seed {args.seed}")

    from vreason.api import VReason

    vr = VReason(model=args.model)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        rows = [json.loads(line) for line in
                write_independent_eval(Path(folder), args.questions, seed=args.seed).read_text().splitlines()]
        for row in (r for r in rows if r["kind"] in FAMILIES):
            said = vr.ask(str(Path(folder) / row["image"]), row["question"], temperature=0.0, presence_penalty=0.0,
                          max_new_tokens=64).text
            named = described_shapes(said)
            records.append({"kind": row["kind"], "question": row["question"], "answer": row["answer"], "said": said,
                            "list": named is not None, "same": named is not None and named == described_shapes(
                                row["answer"]), "exact": same_answer(row["kind"], said, row["answer"]),
                            "number": said.strip().rstrip(".").isdigit()})
    report = tally(records)
    print("| wording | n | a list of shapes | 95% interval | every shape right | 95% interval | exact | a number |")
    print("|---|---:|---:|---|---:|---|---:|---:|")
    for key in sorted(report, key=lambda k: (not k.startswith("["), -report[k]["list_form"], k)):
        row = report[key]
        cells = []
        for name in ("list_form", "same_shapes"):
            low, high = wilson(row[name], row["count"])
            cells.append(f"{row[name]:.2f} | {low:.2f}-{high:.2f}")
        print(f"| {key} | {row['count']} | {' | '.join(cells)} | {row['exact_match']:.3f} | {row['number']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"report": report, "answers": records}, indent=1))


if __name__ == "__main__":
    main()
