"""The README's memory example, asked of a demo model in many fresh sessions: the tally of its answers.

Each trial is a new user with a fresh SQLite store: "Remember: this is part #17" with examples/shapes.png (one red
circle) in a session with a new random id, then, in another new session, "what colour was part #17?" and "what
shape was part #17?" at temperature 0 through the product's memory turn (`vr.memory(...).answer`). The notes
memory puts before a question carry the session ids and the day's date, which differ from one user to the next,
and a demo model's answer can turn on them (runs 43-46 answered `treree red circle [m2] [m1]` for most users), so
one run of the README's commands says little.

`benchmarks/memory_example_eval.py` prints the tally; `demo_continue install` refuses a run that does not give
the README's answers every time.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PICTURE = ROOT / "examples" / "shapes.png"
QUESTIONS = {"what colour was part #17?": "red [m2] [m1]", "what shape was part #17?": "circle [m2] [m1]"}


def trials(sessions: int, model: str | None = None) -> dict[str, Counter]:
    """{question: Counter of the answers} over `sessions` new users of `model` (None: the built-in model).
    ValueError for a model that is not the demo's kind (the README's answers are the demo model's)."""
    from vreason import VReason

    vr = VReason(model)
    try:
        if not vr.demo_family:
            raise ValueError(f"{model}: not the built-in model's kind (its tokenizer): the README's answers are "
                             "the built-in model's")
        said: dict[str, Counter] = {q: Counter() for q in QUESTIONS}
        before = os.environ.get("VREASON_MEMORY_DIR")
        with tempfile.TemporaryDirectory(prefix="memory-example-") as folder:
            try:
                for trial in range(sessions):
                    # a store per trial (read when a memory opens): ids are global row ids, so only a fresh store
                    # gives the README's [m1] [m2]
                    os.environ["VREASON_MEMORY_DIR"] = str(Path(folder) / str(trial))
                    user = f"user{trial}"
                    vr.memory(user=user, session=uuid.uuid4().hex[:8]).answer("Remember: this is part #17",
                                                                              images=[str(PICTURE)])
                    for question in QUESTIONS:
                        later = vr.memory(user=user, session=uuid.uuid4().hex[:8])
                        said[question][later.answer(question, temperature=0.0).text] += 1
            finally:
                if before is None:
                    os.environ.pop("VREASON_MEMORY_DIR", None)
                else:
                    os.environ["VREASON_MEMORY_DIR"] = before
        return said
    finally:
        vr.close()


def misses(said: dict[str, Counter]) -> list[str]:
    """One line per question not answered as the README says every time: the answers given instead."""
    lines = []
    for question, tally in said.items():
        wrong = {text: n for text, n in tally.items() if text != QUESTIONS[question]}
        if wrong:
            given = ", ".join(f"{text!r} x{n}" for text, n in sorted(wrong.items(), key=lambda item: -item[1]))
            lines.append(f"{question!r}: {tally[QUESTIONS[question]]} of {sum(tally.values())} as the README "
                         f"says ({QUESTIONS[question]!r}); also {given}")
    return lines
