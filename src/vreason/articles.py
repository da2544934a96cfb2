"""The indefinite article English puts before a noun phrase: "a red circle", "an orange star", "a unicorn", "an
hour", and none before a phrase that has its own determiner ("the dog", "2 cats", "one red car").

One owner for the rule that the questions and descriptions vreason writes at run time share: a video "when"
question (reasoning/video_when.py), memory's description of a picture's facts (memory/describe.py), a live
trigger's yes/no question (live/triggers.py) and a file error's wording (media/local_files.py). The training and
evaluation generators keep their own wording on purpose: their data must not change when this rule does.

Written by hand, on purpose: `inflect`, the library for English inflection, took about 4 s to import on a 2-core
box (typeguard instruments its functions), more than a command's start can pay for one word; the few sounds that
are not what their letters look like are listed here instead.
"""

from __future__ import annotations

import re

# A phrase that starts with one of these brings its own determiner: "is there {a} {target}?" must not say "a the".
_DETERMINERS = re.compile(r"^(a|an|the|any|some|every|each|one|two|three|\d+)\b", re.I)
# First letters that are not the sound they look like: "a unicorn", "a one-way sign", "a European car", "an hour".
_A_BEFORE_VOWEL = re.compile(r"^(uni|use|usu|ura|eu|one|once)", re.I)
_AN_BEFORE_H = re.compile(r"^(hour|honest|honou?r|heir)", re.I)


def indefinite_article(phrase: str) -> str:
    """"a" or "an" for `phrase`, or "" when it starts with a determiner of its own or is empty."""
    phrase = phrase.strip()
    if not phrase or _DETERMINERS.match(phrase):
        return ""
    if _AN_BEFORE_H.match(phrase):
        return "an"
    return "an" if phrase[0].lower() in "aeiou" and not _A_BEFORE_VOWEL.match(phrase) else "a"


def with_article(phrase: str) -> str:
    """`phrase` after its indefinite article: "an orange star"; "the dog" and "2 cats" as they are."""
    phrase = " ".join(phrase.split())
    return f"{indefinite_article(phrase)} {phrase}".strip()
