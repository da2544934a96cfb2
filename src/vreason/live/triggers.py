"""Triggers: a condition in words ("a red circle appears"), checked on each new window as a yes/no question,
and the state machine that turns a series of answers into events.

An event fires on the transition to true, not on every window while the condition holds: after `debounce`
consecutive yes answers while not active (the first window counts as a transition: a thing already there
when watching starts is reported once). One no answer re-arms it. Within `cooldown_s` (stream time) of the
last event a transition is not reported again (the trigger still becomes active, so it does not fire late).

`trigger_question` words the question the way the model was taught presence ("is there a red circle?");
conditions about something leaving ("the blue square is gone") ask the same question and fire on "no".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vreason.articles import with_article

APPEARS = re.compile(r"^(.*?)\s+(appears|is visible|is present|shows up|enters|comes in|is there)$")
LEAVES = re.compile(r"^(.*?)\s+(is gone|disappears|leaves|is missing|is not visible|vanishes)$")


def trigger_question(condition: str) -> tuple[str, bool]:
    """(yes/no question, whether "yes" means the condition holds)."""
    text = condition.strip().rstrip(".?!").strip()
    if not text:
        raise ValueError("a trigger needs a condition, e.g. 'a red circle appears'")
    lowered = text.lower()
    for pattern, expect in ((APPEARS, True), (LEAVES, False)):
        match = pattern.match(lowered)
        if match:
            thing = re.sub(r"^(the|a|an)\s+", "", match.group(1))
            return f"is there {with_article(thing)}?", expect
    return f"is it true that {text}? answer yes or no.", True


def parse_yes(answer: str) -> bool | None:
    """The answer's yes or no (its first yes/no word), None when it has neither."""
    match = re.search(r"\b(yes|no|true|false)\b", answer.lower())
    if match is None:
        return None
    return match.group(1) in ("yes", "true")


@dataclass
class Trigger:
    condition: str
    debounce: int = 1  # consecutive windows where it holds before it fires
    cooldown_s: float = 0.0  # stream seconds after an event during which it does not fire again
    question: str = ""
    expect_yes: bool = True
    active: bool = False
    streak: int = 0
    last_fired: float | None = None
    fired: int = 0
    history: list[tuple[float, bool]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.debounce < 1:
            raise ValueError(f"trigger debounce must be >= 1, got {self.debounce}")
        if not self.question:
            self.question, self.expect_yes = trigger_question(self.condition)

    def holds(self, answer: str) -> bool:
        said = parse_yes(answer)
        return said is not None and said == self.expect_yes

    def update(self, holds: bool, stream_time: float) -> bool:
        """Feed one window's result; returns whether an event fires now."""
        if len(self.history) < 1000:
            self.history.append((stream_time, holds))
        if not holds:
            self.streak = 0
            self.active = False
            return False
        self.streak += 1
        if self.active or self.streak < self.debounce:
            return False
        self.active = True
        if self.last_fired is not None and stream_time - self.last_fired < self.cooldown_s:
            return False
        self.last_fired = stream_time
        self.fired += 1
        return True
