"""The built-in model's chain after its second stage's runs: follow-up runs in order, each on its mix of data
(demo_v2_mixes.py), and where one first grows the model deeper (grow.py).

A follow-up is written on command lines as `MIX:STEPS:LR[:STOP][:grow=T/V]`: the mix, the cosine schedule's
length, the learning rate, the step it was stopped at (a time limit ended the candidate's "clips" run after 201 of
its 340 steps) and, for a run that starts from a grown model, the text layers and vision blocks added before it.
The recipe (demo_recipe.py), `demo_continue` and the card read and write this one form.
"""

from __future__ import annotations

from dataclasses import dataclass

from vreason.train.demo_v2_mixes import MIXES
from vreason.train.grow import Growth


@dataclass(frozen=True)
class FollowUp:
    """One follow-up run: its mix, cosine schedule length and learning rate; `stop_after` ends it early; `grow`
    adds identity layers to the model it starts from (grow.py) before it trains."""

    mix: str
    steps: int
    learning_rate: float
    stop_after: int | None = None
    grow: Growth | None = None

    def __post_init__(self) -> None:
        if self.mix not in MIXES:
            raise ValueError(f"unknown mix {self.mix!r}; choose from {', '.join(MIXES)}")

    @classmethod
    def parse(cls, spec: str) -> FollowUp:
        """`MIX:STEPS:LR[:STOP][:grow=T/V]` as the recipe's and demo_continue's command lines take it; ValueError
        if not."""
        parts = spec.split(":")
        grow = Growth.parse(parts.pop()) if len(parts) > 3 and parts[-1].startswith("grow") else None
        if len(parts) > 4:
            raise ValueError(f"{spec!r}: expected MIX:STEPS:LR[:STOP][:grow=T/V]")
        try:
            return cls(parts[0], int(parts[1]), float(parts[2]), int(parts[3]) if len(parts) > 3 else None, grow)
        except IndexError as error:
            raise ValueError(str(error)) from None

    @classmethod
    def from_record(cls, entry: dict) -> FollowUp:
        """The follow-up a summary's follow-up entry records (`stop_after` where it stopped before its schedule's
        end), so the card writes the command that makes it again in this one form."""
        planned, steps = entry.get("planned_steps", entry["steps"]), entry["steps"]
        return cls(entry["mix"], planned, float(entry["learning_rate"]), steps if steps < planned else None,
                   recorded_growth(entry))

    def spec(self) -> str:
        """The command-line form, which `parse` reads back."""
        stop = "" if self.stop_after is None else f":{self.stop_after}"
        grow = "" if self.grow is None else f":{self.grow.spec()}"
        return f"{self.mix}:{self.steps}:{self.learning_rate}{stop}{grow}"

    def record(self) -> dict:
        """What a summary's follow-up entry says of the growth ({} for none)."""
        return {} if self.grow is None else {"grow": self.grow.facts()}


def recorded_growth(entry: dict) -> Growth | None:
    """The growth a summary's follow-up entry (or a run's stage record) records, None for none."""
    grow = entry.get("grow")
    return Growth(**grow) if grow else None


def recorded_growths(summary: dict) -> list[tuple[int, Growth]]:
    """(place in the chain from 1, growth) of each follow-up a model's summary records as grown."""
    follow_ups = summary.get("v2", {}).get("follow_ups", [])
    return [(place, recorded_growth(r)) for place, r in enumerate(follow_ups, 1) if r.get("grow")]


def growth_words(summary: dict) -> str:
    """The card's words for where its sizes differ from the recipe's first stage ("" where they do not)."""
    places = recorded_growths(summary)
    if not places:
        return ""
    return ("\n  " + "; ".join(f"Grown by {g.words()} before follow-up {place}" for place, g in places)
            + " (`vreason.train.grow`: new layers after the last ones, each starting as the identity, so the model "
              "answered as before until that run trained them).")


def check_order(follow_ups: tuple[FollowUp, ...]) -> None:
    """Refuse, before anything trains, follow-ups whose mix samples a mix no earlier follow-up wrote."""
    written: set[str] = set()
    for follow in follow_ups:
        missing = [s for s in MIXES[follow.mix].sources if s != "all" and s not in written]
        if missing:
            raise ValueError(f"follow-up mix {follow.mix!r} samples mix {missing[0]!r}: "
                             f"put a {missing[0]!r} follow-up before it")
        written.add(follow.mix)


# The follow-ups of the second stage's first candidate, in order (benchmarks/RESULTS.md, "Follow-up runs"; it
# trained on varied part format 5: the preset replays its runs on today's data, not its exact files).
CANDIDATE_FOLLOW_UPS = (
    FollowUp("changes", 300, 1e-4),
    FollowUp("clips", 340, 1e-4, stop_after=201),
    FollowUp("count", 400, 1e-4),
    FollowUp("count-focus", 250, 5e-5),
)
