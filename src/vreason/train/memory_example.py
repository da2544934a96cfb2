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

import tempfile
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PICTURE = ROOT / "examples" / "shapes.png"  # the README's picture: a source checkout's (a tool for building the model)
QUESTIONS = {"what colour was part #17?": "red [m2] [m1]", "what shape was part #17?": "circle [m2] [m1]"}


def trials(sessions: int, model: str | None = None) -> dict[str, Counter]:
    """{question: Counter of the answers} over `sessions` new users of `model` (None: the built-in model).
    ValueError for a model that is not the demo's kind (the README's answers are the demo model's)."""
    from vreason import VReason
    from vreason.memory import open_store

    vr = VReason(model)
    try:
        if not vr.demo_family:
            raise ValueError(f"{model}: not the built-in model's kind (its tokenizer): the README's answers are "
                             "the built-in model's")
        said: dict[str, Counter] = {q: Counter() for q in QUESTIONS}
        with tempfile.TemporaryDirectory(prefix="memory-example-") as folder:
            for trial in range(sessions):
                # a store of its own per trial (given as a directory, which wins over VREASON_MEMORY_URL): ids
                # are global row ids, so only a fresh store gives the README's [m1] [m2]
                store = str(Path(folder) / str(trial))
                user = f"user{trial}"
                vr.memory(user=user, directory=store, session=uuid.uuid4().hex[:8]).answer(
                    "Remember: this is part #17", images=[str(PICTURE)])
                for question in QUESTIONS:
                    later = vr.memory(user=user, directory=store, session=uuid.uuid4().hex[:8])
                    said[question][later.answer(question, temperature=0.0).text] += 1
                open_store(directory=store).close()  # the process keeps one store per URL until closed
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
