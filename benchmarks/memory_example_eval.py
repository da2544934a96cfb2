"""The README's memory example, asked in many sessions: how often a demo model gives the documented answer.

    .venv/bin/python benchmarks/memory_example_eval.py [--sessions 30] [--model DIR] [--json F]

`vreason.train.memory_example` runs the trials (each a new user with a fresh store and new session ids, which
the demo model's answer can turn on) and this prints the tally: how many answers are exactly in the README's form
("red [m2] [m1]") and what else was said. It measures the built-in model, or with --model a trained run's folder
(`.cache/demo-build/v2-41`): memory asks any model with the demo's tokenizer the demo's own question forms
(`vr.demo_family`), as it does the built-in. `demo_continue install` runs the same trials as its gate.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from vreason.models.placement import SYSTEM_FLAGS, cpu_summary
from vreason.train.memory_example import QUESTIONS, trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="trials, each a new user and two new sessions")
    parser.add_argument("--model", help="a run's folder trained from the built-in model (default: the built-in)")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        said = trials(args.sessions, args.model)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(f"\nmemory example: {cpu_summary(SYSTEM_FLAGS)}, {os.cpu_count()} cores, {args.model or 'built-in model'}, "
          f"{args.sessions} trials, {time.perf_counter() - started:.0f} s\n")
    print("| question | README's answer | given exactly | other answers (count) |")
    print("|---|---|---:|---|")
    report = {}
    for question, expected in QUESTIONS.items():
        tally = said[question]
        others = ", ".join(f"`{text}` ({n})" for text, n in tally.most_common() if text != expected) or "none"
        print(f"| {question} | `{expected}` | {tally[expected]} / {args.sessions} | {others} |")
        report[question] = {"expected": expected, "exact": tally[expected], "answers": dict(tally)}
    if args.json:
        args.json.write_text(json.dumps({"trials": args.sessions, "questions": report}, indent=1))


if __name__ == "__main__":
    main()
