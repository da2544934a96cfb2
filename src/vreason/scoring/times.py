"""Answers that are points in time ("3", "3.5 s", "at 3 seconds", "0:03", "1 min 5 s"), read as seconds, and
their scoring: a predicted time is right when it lies within `TIME_TOLERANCE_S` of the reference.

Two readings, because a reference and a prediction deserve different trust:
- `reference_seconds(text)` reads a reference only when the whole text is one time (fillers such as "at",
  "around", "about" allowed), so "3 cars" is not a time;
- `first_seconds(text)` reads the first time a model wrote anywhere in its answer ("It happens at about
  3.5 seconds." → 3.5, "<4.0 seconds>" → 4.0), falling back to its first plain number, as the question asked
  for a time.

Whether a bare number ("3") is a time is the caller's call (`bare_numbers`): for a video question it is
seconds; for an image question it is more likely a count. Pure functions; no model, no files.
"""

from __future__ import annotations

import re
import unicodedata

from vreason.scoring.metrics import normalize

TIME_TOLERANCE_S = 1.0  # a predicted time this close to the reference (inclusive) counts as right

# Qwen answers in Chinese too. No bare "m" or "h": "moved 3 m" is metres, not minutes.
_UNIT_SECONDS = {
    0.001: ("ms", "msec", "millisecond", "milliseconds", "毫秒"),
    1.0: ("s", "sec", "secs", "second", "seconds", "秒", "秒钟"),
    60.0: ("min", "mins", "minute", "minutes", "分", "分钟"),
    3600.0: ("hr", "hrs", "hour", "hours", "小时"),
}
_UNITS = {name: seconds for seconds, names in _UNIT_SECONDS.items() for name in names}
_NUM = r"\d+(?:\.\d+)?"
_UNIT = "|".join(sorted(_UNITS, key=len, reverse=True))  # longest first: "seconds" before "s"
# h:mm:ss(.f) or m:ss(.f); the first field may be long ("75:30" is 75 minutes 30 seconds)
_CLOCK = re.compile(r"(?<![\d.:])(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?(\.\d+)?(?![\d:])")
# one or more number-unit pairs: "3 s", "3.5s", "1 min 5 s", "1 minute and 5 seconds"
_END = r"(?![a-z])"  # not \b: a CJK unit may run into the next word ("2秒时")
_SPANS = re.compile(
    rf"(?<![A-Za-z\d.])({_NUM})\s*({_UNIT}){_END}((?:\s*(?:and\s*)?{_NUM}\s*(?:{_UNIT}){_END})*)", re.IGNORECASE
)
_PAIR = re.compile(rf"({_NUM})\s*({_UNIT}){_END}", re.IGNORECASE)
_BARE = re.compile(rf"(?<![\w.]){_NUM}(?![\w.])")
# Words a reference time may carry around it: "at 3 s", "around 3 seconds", "~3s", "t=3".
_FILLERS = re.compile(
    r"^(?:at|around|about|approximately|approx|roughly|~|t\s*=|time\s*[:=]?|after)?\s*(.*?)\s*(?:mark)?$",
    re.IGNORECASE,
)


def _clean(text: str) -> str:
    # NFKC folds full-width digits and colons; number words become digits ("three seconds" -> "3 seconds")
    text = unicodedata.normalize("NFKC", text).strip()
    words = [normalize(w) if w.isalpha() else w for w in text.split()]
    return " ".join(w for w in words if w)


def _clock_seconds(match: re.Match[str]) -> float:
    first, second, third, fraction = match.groups()
    if third is not None:  # h:mm:ss
        return int(first) * 3600 + int(second) * 60 + float(third)
    return int(first) * 60 + int(second) + float(fraction or 0)


def _span_seconds(match: re.Match[str]) -> float:
    return sum(float(n) * _UNITS[u.lower()] for n, u in _PAIR.findall(match.group(0)))


def reference_seconds(text: str, *, bare_numbers: bool = True) -> float | None:
    """The time a reference answer names, in seconds, when the whole answer is one time; else None.
    With `bare_numbers`, a plain number ("3", "3.5") is seconds; without, a time needs a unit or a clock."""
    body = _FILLERS.match(_clean(text).rstrip(".")).group(1).strip()
    body = body.strip("<>").strip()  # Qwen3-VL writes times as "<3.0 seconds>"
    if not body:
        return None
    clock = _CLOCK.fullmatch(body)
    if clock:
        return _clock_seconds(clock)
    span = _SPANS.fullmatch(body)
    if span:
        return _span_seconds(span)
    if bare_numbers and _BARE.fullmatch(body):
        return float(body)
    return None


def first_seconds(text: str) -> float | None:
    """The first time in a model's answer, in seconds: a clock ("0:03"), number-unit pairs ("3.5 s",
    "1 min 5 s"), or, when it wrote neither, its first plain number. None when it wrote no number at all."""
    text = _clean(text)
    found = [(m.start(), _clock_seconds(m)) for m in _CLOCK.finditer(text)]
    found += [(m.start(), _span_seconds(m)) for m in _SPANS.finditer(text)]
    if found:
        return min(found)[1]
    bare = _BARE.search(text)
    return float(bare.group(0)) if bare else None


def time_correct(prediction: str, reference: float, tolerance_s: float = TIME_TOLERANCE_S) -> bool:
    """Whether the first time in `prediction` is within `tolerance_s` of `reference` seconds."""
    seconds = first_seconds(prediction)
    return seconds is not None and abs(seconds - reference) <= tolerance_s + 1e-9
