"""The built-in demo model's answers to an open question ("what is in the image?") per wording: the one wording
of the card's "independent/describe" family (a training wording) and each of the eight of "describe-reworded"
(`REWORDED_DESCRIBE`, words no training question uses), on the independent renderer's pictures.

    .venv/bin/python benchmarks/describe_wordings_eval.py [--questions 400] [--seed 2002] [--model DIR] [--json F]
                                                          [--also WORDING ... [--also-pictures 100]]

It writes the card's whole independent set for the seed (`write_independent_eval`, `--questions` per family) and
asks only the two describe families, so with the defaults its rows are the card's own questions and its family
rows ("[describe]", "[describe-reworded]") the card's numbers. Each row: how often the answer is a list of shapes
at all (qa_eval's `list_form`), how often it names every shape with its colour (`same_shapes`), both with 95%
Wilson intervals, how often it is the card's exact answer, and how often it is a bare number instead, all as
qa_eval scores a "describe" family (each wording its own kind). A model that learnt the request answers every
wording alike.

`--also` asks further wordings (rows "describe-also: <wording>"), each about the first `--also-pictures` pictures of
the "describe" family: wordings in neither set, to see what a request's form does ("what shapes are present?" is
one word from the evaluation's "what shapes are there?"), without changing the card's rows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from vreason.eval.shapes_independent_qa import write_independent_eval
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.demo_eval import INDEPENDENT_PER_KIND, INDEPENDENT_SEED
from vreason.train.qa_eval import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

FAMILIES = ("describe", "describe-reworded")
SHARES = ("list_form", "same_shapes", "exact_match", "number")


def by_wording(rows: list[dict]) -> list[dict]:
    """The rows of the two describe families, each tagged with its family and wording as its kind: qa_eval scores
    every "describe..." kind alike, so its report comes per wording."""
    return [r | {"kind": f"{r['kind']}: {r['question']}"} for r in rows if r["kind"] in FAMILIES]


def also_asked(rows: list[dict], wordings: list[str], pictures: int) -> list[dict]:
    """The "describe" family's first `pictures` rows asked again in each of `wordings` (same expected list)."""
    described = [r for r in rows if r["kind"] == "describe"][:pictures]
    return [r | {"kind": f"describe-also: {wording}", "question": wording} for wording in wordings for r in described]


def with_families(report: dict[str, dict]) -> dict[str, dict]:
    """`report` (per "family: wording" kind) with a row per family ("[family]"), its wordings' shares weighted by
    their counts."""
    out = {key: entry for key, entry in report.items() if not key.startswith("_")}
    for family in FAMILIES:
        parts = [e for key, e in out.items() if key.split(": ", 1)[0] == family]
        if parts:
            count = sum(e["count"] for e in parts)
            out[f"[{family}]"] = {"count": count, **{name: sum(e[name] * e["count"] for e in parts) / count
                                                     for name in SHARES}}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=INDEPENDENT_PER_KIND, help="per family (the card's: 400)")
    parser.add_argument("--seed", type=int, default=INDEPENDENT_SEED)
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--also", action="append", default=[], metavar="WORDING",
                        help="a further wording to ask (repeatable), about the describe family's pictures")
    parser.add_argument("--also-pictures", type=int, default=100, help="how many pictures each --also asks about")
    args = parser.parse_args()
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; "
          f"pictures: independent, seed {args.seed}")

    from vreason.api import VReason

    vr = VReason(model=args.model)
    with tempfile.TemporaryDirectory() as folder:
        rows = [json.loads(line) for line in
                write_independent_eval(Path(folder), args.questions, seed=args.seed).read_text().splitlines()]
        asked = by_wording(rows) + also_asked(rows, args.also, args.also_pictures)
        report = with_families(evaluate(vr, asked, Path(folder)))
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
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
