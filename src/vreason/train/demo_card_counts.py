"""The model card's Limits line on counting one colour or one kind that is there more than once ("how many red
shapes are there?" with two there), from qa_eval's `many_count` / `many_exact_match` of the count families that
measured them: the family's number alone hides it, as such questions are about a tenth of a count family's.

    many_line(summary) -> "- It undercounts ...\n" or "" (nothing measured), placed by demo_card.py
"""

from __future__ import annotations

import textwrap

# where each count family's pictures come from, in the order the line names them
_SOURCES = (("independent/count", "independent pictures"), ("count", "its own generator's held-out plain ones"),
            ("varied/count", "its held-out varied ones"))


def many_line(summary: dict) -> str:
    """One Limits bullet: per count family that measured it, the share right where two or more of the colour or
    kind asked about are there, beside the family's share right over all its questions."""
    metrics = summary.get("metrics", {})
    measured = [(metrics[key], words) for key, words in _SOURCES if metrics.get(key, {}).get("many_count")]
    if not measured:
        return ""
    many = ", ".join(f"{m['many_exact_match']:.0%} on {words} (n {m['many_count']})" for m, words in measured)
    shares = [f"{m['exact_match']:.0%}" for m, _ in measured]
    every = shares[0] if len(shares) == 1 else ", ".join(shares[:-1]) + " and " + shares[-1]
    text = ("It undercounts a colour or a kind that is there two or more times: asked \"how many red shapes are "
            f"there?\" or \"how many stars are there?\" where two or more are there, it is right {many}, "
            f"against {every} over all the count questions of the same pictures.")
    return textwrap.fill(text, 110, initial_indent="- ", subsequent_indent="  ", break_on_hyphens=False) + "\n"
