"""Self-consistency: the majority over several sampled answers, and how strongly they agree.

Answers are compared in normal form (`normalize_answer`), so "Red." and "red" are one vote. Ties go to the
answer seen first, which makes the result deterministic for a given list of samples. No model here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from vreason.reasoning.answer_extraction import normalize_answer


@dataclass
class Vote:
    answer: str  # the winning answer, normalised ("" when every sample was empty)
    agreement: float  # share of all samples that gave the winning answer, 0..1
    counts: dict[str, int] = field(default_factory=dict)  # every normalised answer and its votes, most first
    winner_index: int = 0  # the first sample that gave the winning answer (its raw output represents the vote)

    def to_dict(self) -> dict:
        return {"answer": self.answer, "agreement": round(self.agreement, 4), "counts": self.counts}


def majority_vote(answers: Sequence[str]) -> Vote:
    if not answers:
        raise ValueError("majority_vote needs at least one answer")
    normal = [normalize_answer(a) for a in answers]
    counted = Counter(a for a in normal if a)  # an empty answer (cut off, refused) is no vote for anything
    if not counted:
        return Vote(answer="", agreement=0.0, counts={}, winner_index=0)
    first_seen = {a: normal.index(a) for a in counted}
    ranked = sorted(counted, key=lambda a: (-counted[a], first_seen[a]))
    winner = ranked[0]
    return Vote(
        answer=winner,
        agreement=counted[winner] / len(answers),
        counts={a: counted[a] for a in ranked},
        winner_index=first_seen[winner],
    )
