"""The README's memory example, asked in many sessions: how often the built-in model gives the documented answer.

    .venv/bin/python benchmarks/memory_example_eval.py [--sessions 30] [--model DIR] [--json F]

Each trial is a new user with a fresh SQLite store: "Remember: this is part #17" with examples/shapes.png (one
red circle) in a session with a new random id, then, in another new session, "what colour was part #17?" and
"what shape was part #17?" at temperature 0 through the product's memory turn (`vr.memory(...).answer`). The
notes memory puts before the question carry the session ids and the day's date, which differ from one user to
the next, and the demo model's answer can turn on them: one run of the README's commands says little. This
tallies the answers over the trials and counts those exactly in the README's form ("red [m2] [m1]").

It measures the built-in model, or with --model a trained run's folder (`.cache/demo-build/v2-41`): memory asks
any model with the demo's tokenizer the demo's own question forms (`vr.demo_family`), as it does the built-in.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from vreason.models.placement import SYSTEM_FLAGS, cpu_summary

ROOT = Path(__file__).resolve().parents[1]
PICTURE = ROOT / "examples" / "shapes.png"
QUESTIONS = {"what colour was part #17?": "red [m2] [m1]", "what shape was part #17?": "circle [m2] [m1]"}


def trials(sessions: int, model: str | None = None) -> dict[str, Counter]:
    from vreason import VReason

    vr = VReason(model)
    if not vr.demo_family:
        raise SystemExit(f"{model}: not the built-in model's kind (its tokenizer); the README's answers are its own")
    said: dict[str, Counter] = {q: Counter() for q in QUESTIONS}
    with tempfile.TemporaryDirectory(prefix="memory-example-") as folder:
        for trial in range(sessions):
            # a store per trial (read when a memory opens): ids are global row ids, so only a fresh store gives
            # the README's [m1] [m2]
            os.environ["VREASON_MEMORY_DIR"] = str(Path(folder) / str(trial))
            user = f"user{trial}"
            vr.memory(user=user, session=uuid.uuid4().hex[:8]).answer("Remember: this is part #17",
                                                                      images=[str(PICTURE)])
            for question in QUESTIONS:
                later = vr.memory(user=user, session=uuid.uuid4().hex[:8])
                said[question][later.answer(question, temperature=0.0).text] += 1
    return said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="trials, each a new user and two new sessions")
    parser.add_argument("--model", help="a run's folder trained from the built-in model (default: the built-in)")
    parser.add_argument("--json", type=Path, help="also write the tallies here")
    args = parser.parse_args()
    started = time.perf_counter()
    said = trials(args.sessions, args.model)
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
