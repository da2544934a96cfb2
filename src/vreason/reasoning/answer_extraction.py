"""The final answer inside a model's output, and the normal form answers are compared in.

Chain-of-thought output ends with a line such as `Answer: red` (the prompt from `cot_instruction` asks for
it), `\\boxed{3}` or just a last short line; a thinking model's `Answer.text` is already the answer, and when
generation stopped inside the thinking block the answer is searched for there. `normalize_answer` maps
"The Red.", "red" and "**red**" to one string so that votes and unions count them together. No model here.
"""

from __future__ import annotations

import re

ANSWER_TAG = "Answer:"
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_TAGGED = re.compile(r"\b(?:final\s+answer|answer)\s*[*_]*\s*[:：]\s*[*_]*\s*(.+)", re.I)
_ARTICLES = re.compile(r"^(?:a|an|the)\s+", re.I)
_EDGE_PUNCT = " \t\n\"'`*_.,;:!?()[]{}"
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ))
}
_LIST_SPLIT = re.compile(r"\s*(?:,|;|\band\b|\n|/)\s*", re.I)


def cot_instruction(question: str) -> str:
    """`question` with a chain-of-thought request whose final line `extract_final_answer` can find."""
    return (
        f"{question.rstrip()}\n\nThink step by step about what you see, then write the final answer on its own "
        f"last line as: {ANSWER_TAG} <answer>"
    )


def extract_final_answer(text: str, thinking: str | None = None) -> str:
    """The answer in `text`: a tagged or boxed answer (the last one), else the last non-empty line.

    An empty `text` with `thinking` (a thinking model cut off before it answered) falls back to the thinking.
    """
    source = text if text.strip() else (thinking or "")
    boxed = _BOXED.findall(source)
    if boxed:
        return boxed[-1].strip()
    tagged = _TAGGED.findall(source)
    if tagged:
        return tagged[-1].strip().strip("*_ ").strip()
    lines = [line.strip() for line in source.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def normalize_answer(text: str) -> str:
    """Lower case, no surrounding punctuation or markdown, no leading article, number words as digits."""
    cleaned = " ".join(text.strip().split()).lower().strip(_EDGE_PUNCT)
    cleaned = _ARTICLES.sub("", cleaned).strip(_EDGE_PUNCT)
    return _NUMBER_WORDS.get(cleaned, cleaned)


def answer_items(text: str) -> list[str]:
    """An answer that lists things ("red, blue and green") as its normalised items, in order, without repeats."""
    items: list[str] = []
    for part in _LIST_SPLIT.split(text):
        item = normalize_answer(part)
        if item and item not in items:
            items.append(item)
    return items
