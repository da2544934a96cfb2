"""Sample data for the essay pack: short essays assembled from sentence banks with planted flaws whose
rubric points follow by construction: off-topic sentences cost content, a missing introduction, conclusion or
paragraph breaks cost organisation, misspellings cost language.

English essays are rendered as a page (the photo case); Chinese/English mixed essays travel as typed text
(the `text` field), because a CJK font cannot be assumed on every machine. The scores are a construction,
not a teacher's judgement: they exercise parsing and metrics, nothing more. Same seed, same data.
"""

from __future__ import annotations

import json
import random
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, MARGIN, LINE_HEIGHT, WRAP = 560, 24, 22, 58

TOPICS = {
    "My favourite season": {
        "intro": "Of all the seasons, autumn is the one I love most.",
        "body": ["The air turns cool and the trees change colour.", "I like walking to school through the leaves.",
                 "We pick apples at my grandmother's farm every October.",
                 "The evenings are quiet, so I read more books."],
        "zh": ["秋天的天空很高很蓝。", "我和家人一起去公园看红叶。"],
        "end": "That is why autumn will always be my favourite season.",
    },
    "Why reading matters": {
        "intro": "Reading is one of the most useful habits a student can have.",
        "body": ["Books let us visit places we may never see.", "Reading every day improves our vocabulary.",
                 "Stories help us understand how other people feel.",
                 "A good book is also a calm break from screens."],
        "zh": ["读书让我学会了很多新的词语。", "每天睡觉前我都会读半个小时。"],
        "end": "For these reasons, I believe everyone should read a little every day.",
    },
}
OFF_TOPIC = ["My cousin has a dog called Max who chases cats.", "Football is played by two teams of eleven players.",
             "Yesterday the bus was late again.", "我昨天晚饭吃了饺子。"]


def write_samples(out: Path, count: int = 8, seed: int = 0) -> Path:
    rng = random.Random(seed)
    (out / "images").mkdir(parents=True, exist_ok=True)
    path = out / "education-essay.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            title = list(TOPICS)[index % len(TOPICS)]
            mixed = index % 4 == 3
            flaws = {"off_topic": rng.choice((0, 0, 1, 2)), "no_intro": rng.random() < 0.3,
                     "no_end": rng.random() < 0.3, "one_block": rng.random() < 0.3,
                     "misspellings": rng.choice((0, 0, 2, 4, 6))}
            text, criteria = compose(title, flaws, mixed, rng)
            row = {"id": f"essay-{index:04d}", "topic": title, "kind": "zh-en" if mixed else "en",
                   "target": {"score": sum(criteria.values()), "criteria": criteria}}
            if mixed:
                row["text"] = text
            else:
                name = f"images/essay-{index:04d}.png"
                render_page(title, text).save(out / name)
                row["image"] = name
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def compose(title: str, flaws: dict, mixed: bool, rng: random.Random) -> tuple[str, dict[str, int]]:
    """The essay text and its rubric points (content 0-4, organisation 0-3, language 0-3)."""
    bank = TOPICS[title]
    body = list(bank["body"])
    if mixed:  # every other body sentence in Chinese
        body[1], body[3] = bank["zh"][0], bank["zh"][1]
    for k, index in enumerate(rng.sample(range(len(body)), flaws["off_topic"])):  # distinct sentences
        body[index] = OFF_TOPIC[k]
    body, misspelled = _misspell_words(body, flaws["misspellings"], rng)
    paragraphs = ([bank["intro"]] if not flaws["no_intro"] else []) + [" ".join(body[:2]), " ".join(body[2:])] + (
        [bank["end"]] if not flaws["no_end"] else [])
    text = (" " if flaws["one_block"] else "\n\n").join(paragraphs)
    criteria = {
        "content": 4 - 2 * flaws["off_topic"],
        "organisation": 3 - flaws["no_intro"] - flaws["no_end"] - flaws["one_block"],
        "language": 3 - misspelled // 2,
    }
    return text, criteria


def _misspell_words(sentences: list[str], count: int, rng: random.Random) -> tuple[list[str], int]:
    """Swap two different neighbouring inner letters in `count` distinct English words of five letters or more;
    returns the sentences and how many words were misspelled."""
    spots = [(i, j) for i, s in enumerate(sentences) for j, w in enumerate(s.split())
             if len(w.strip(".,'")) >= 5 and w.isascii() and w.strip(".,").isalpha()]
    chosen = rng.sample(spots, min(count, len(spots)))
    out = [s.split() for s in sentences]
    for i, j in chosen:
        word = out[i][j]
        inner = [k for k in range(1, len(word.strip(".,")) - 2) if word[k] != word[k + 1]]
        k = rng.choice(inner)
        out[i][j] = word[:k] + word[k + 1] + word[k] + word[k + 2:]
    return [" ".join(words) for words in out], len(chosen)


def render_page(title: str, text: str) -> Image.Image:
    lines = [title, ""]
    for paragraph in text.split("\n\n"):
        lines += textwrap.wrap(paragraph, WRAP) + [""]
    image = Image.new("RGB", (WIDTH, MARGIN * 2 + LINE_HEIGHT * len(lines)), (252, 252, 248))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=16)
    for row, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + row * LINE_HEIGHT), line, font=font, fill=(30, 30, 40))
    return image
