"""The built-in demo model's colour, shape and count answers on the independent renderer's pictures, split by how
the shapes are drawn and how many there are, with the commonest confusions.

    .venv/bin/python benchmarks/independent_style_eval.py [--questions 300] [--seed 2002] [--model DIR] [--json F]

`make eval-demo` reports one number a family for "independent/color", "independent/shape" and "independent/count".
This asks the same families (`write_independent_eval(kinds=("color", "shape", "count"))`, the card's seed by
default; other pictures than the card's 400, which are drawn with the other families between them) and splits
each family's exact match by the picture's drawing styles (every shape filled, any with a darker border, any
drawn as an outline only: eval/shapes_independent.py's STYLES), by its number of shapes and by its shape (square,
or not: the built-in model sees every picture stretched to a square), each row with its 95%
Wilson interval, then lists the commonest (true, said) pairs among the errors. It tells which rendering a family
loses to, so that training can be pointed at it (in the training generator's own drawing code).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from PIL import Image

from vreason.eval.shapes_independent_qa import write_independent_eval
from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.demo_eval import INDEPENDENT_SEED
from vreason.train.qa_eval import same_answer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pointcloud_demo_eval import wilson  # noqa: E402

FAMILIES = ("color", "shape", "count")
_ORDER = ("all", "all filled", "any border", "any outline", "1 shape", "2 shapes", "3 shapes", "4 shapes",
          "square picture", "not square")


def drawing(styles: list[str]) -> str:
    return "any outline" if "outline" in styles else "any border" if "bordered" in styles else "all filled"


def breakdown(records: list[dict]) -> dict:
    """Per family: exact match overall, by drawing and by number of shapes; the errors' commonest pairs."""
    report = {}
    for family in FAMILIES:
        rows = [r for r in records if r["kind"] == family]
        split: dict[str, list[bool]] = defaultdict(list)
        for r in rows:
            count = len(r["styles"])
            shape_key = "square picture" if r["size"][0] == r["size"][1] else "not square"
            for key in ("all", drawing(r["styles"]), f"{count} shape{'s' if count > 1 else ''}", shape_key):
                split[key].append(r["right"])
        errors = Counter((r["answer"], r["said"]) for r in rows if not r["right"])
        report[family] = {
            "rows": {key: {"count": len(v), "exact_match": sum(v) / len(v)} for key, v in split.items()},
            "errors": [{"true": t, "said": s, "count": n} for (t, s), n in errors.most_common(8)]}
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=300, help="a family")
    parser.add_argument("--seed", type=int, default=INDEPENDENT_SEED)
    parser.add_argument("--model", help="default: the built-in demo model")
    parser.add_argument("--json", type=Path, help="also write the report (and every answer) here")
    args = parser.parse_args()
    print(f"machine: {cpu_summary(SYSTEM_FLAGS)}; model: {args.model or 'built-in demo model'}; seed {args.seed}")

    from vreason.api import VReason

    vr = VReason(model=args.model)
    records = []
    with tempfile.TemporaryDirectory() as folder:
        data = write_independent_eval(Path(folder), args.questions, args.seed, kinds=FAMILIES)
        for line in data.read_text().splitlines():
            row = json.loads(line)
            picture = Path(folder) / row["image"]
            said = vr.ask(str(picture), row["question"], temperature=0.0,
                          presence_penalty=0.0, max_new_tokens=8).text.strip()
            with Image.open(picture) as image:
                size = list(image.size)
            records.append({**row, "said": said, "right": bool(same_answer(row["kind"], said, row["answer"])),
                            "size": size})
    report = breakdown(records)
    print("| family | pictures | n | exact | 95% interval |")
    print("|---|---|---:|---:|---|")
    for family, found in report.items():
        for key, row in sorted(found["rows"].items(), key=lambda item: _ORDER.index(item[0])):
            low, high = wilson(row["exact_match"], row["count"])
            print(f"| {family} | {key} | {row['count']} | {row['exact_match']:.3f} | {low:.2f}-{high:.2f} |")
    for family, found in report.items():
        print(f"{family} errors, true -> said: "
              + ", ".join(f"{e['true']} -> {e['said']} x{e['count']}" for e in found["errors"]))
    if args.json:
        args.json.write_text(json.dumps({**report, "answers": records}, indent=1))


if __name__ == "__main__":
    main()
