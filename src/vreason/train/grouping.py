"""Questions about one picture or one clip, trained as one sequence.

A visual-question data set asks many questions about each image (easy-VQA: ten on average), and a clip data
set several about each clip. Trained one row per question, every question pays for the vision tower, for the
media's tokens in the language model and for its own padding. Grouped, the image or clip is encoded once and
each question-and-answer becomes a *branch* after it: the branch sees the media and itself only (a block
attention mask) at the positions it would have alone, so the loss of every answer is exactly the loss of that
question trained on its own, with no leakage between questions. A multi-turn conversation leaks: asked
"when does the blue triangle disappear?" first, "what color is the shape that disappears?" is answered by
copying "blue" from the question, and the model learns to copy instead of to look.

Only single-turn rows with one image or one clip (a path or URL), media first, qualify (the short form, or
`messages` of one user turn and one assistant turn); every other row trains as it is. A group never holds the
same question twice: a data set that repeats a clip's rows (to weight clips up) gets one group per copy. This
module owns the grouping; `collate.py` turns groups into tensors.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vreason.engine.types import ImagePart, Message, TextPart, VideoPart
from vreason.train.dataset import Example

DEFAULT_GROUP_QUESTIONS = 16


@dataclass
class QuestionGroup:
    """Up to `group_questions` single-question examples about the same image or clip, in data order."""

    examples: list[Example]

    @property
    def media(self) -> ImagePart | VideoPart:
        return self.examples[0].messages[0].content[0]

    @property
    def where(self) -> str:
        first = self.examples[0]
        lines = ",".join(str(e.line) for e in self.examples)
        return f"{first.source}:{lines}"

    def questions(self) -> list[tuple[str, str]]:
        """(question, answer) texts, one per branch."""
        return [(e.messages[0].text, e.messages[1].text) for e in self.examples]


TrainItem = Example | QuestionGroup


def conversations(item: TrainItem) -> list[list[Message]]:
    """What an item asks, as conversations the engine can answer: a group is one conversation per question."""
    if isinstance(item, QuestionGroup):
        return [e.messages for e in item.examples]
    return [item.messages]


def groupable_media(example: Example) -> tuple[Any, ...] | None:
    """What a single-question example is about, as a key: ("image", source) or ("video", source, sampling);
    None when the example cannot join a group."""
    messages = example.messages
    if len(messages) != 2 or messages[0].role != "user" or messages[1].role != "assistant":
        return None
    parts = messages[0].content
    if not parts or not all(isinstance(p, TextPart) for p in parts[1:]) or not any(p.text for p in parts[1:]):
        return None
    media = parts[0]
    if isinstance(media, ImagePart) and isinstance(media.source, str):
        return ("image", media.source)
    if isinstance(media, VideoPart) and isinstance(media.source, str):  # a clip, not a list of frames
        return ("video", media.source, media.sampling)
    return None


def group_by_media(examples: Sequence[Example], group_questions: int) -> list[TrainItem]:
    """Single-question examples about the same image or clip joined into groups of at most `group_questions`
    questions, none asked twice in one group.

    Groups keep the order in which their media first appear; examples that cannot be grouped stay as they
    are, at their place. `group_questions` <= 1 returns the examples unchanged.
    """
    if group_questions <= 1:
        return list(examples)
    items: list[TrainItem] = []
    open_groups: dict[tuple[Any, ...], tuple[QuestionGroup, set[str]]] = {}  # key -> group, its questions
    for example in examples:
        key = groupable_media(example)
        if key is None:
            items.append(example)
            continue
        question = example.messages[0].text
        group, asked = open_groups.get(key, (None, set()))
        if group is None or len(group.examples) >= group_questions or question in asked:
            group, asked = open_groups[key] = (QuestionGroup([]), set())
            items.append(group)
        group.examples.append(example)
        asked.add(question)
    # a group of one is just the example: no branch bookkeeping for it
    return [item.examples[0] if isinstance(item, QuestionGroup) and len(item.examples) == 1 else item
            for item in items]


def hold_out(items: Sequence[TrainItem], fraction: float,
             rng: random.Random) -> tuple[list[TrainItem], list[TrainItem]]:
    """(held out, trained): about `fraction` of the items held out, by media, so no image or clip is on both
    sides (one picture can make several groups: more than `group_questions` questions, or repeated rows);
    items about no shared media are held out one by one."""
    by_media: dict[Any, list[TrainItem]] = {}
    for index, item in enumerate(items):
        example = item.examples[0] if isinstance(item, QuestionGroup) else item
        by_media.setdefault(groupable_media(example) or ("item", index), []).append(item)
    keys = list(by_media)
    rng.shuffle(keys)
    held: list[TrainItem] = []
    wanted = int(len(items) * fraction)
    for key in keys:
        if len(held) >= wanted:
            break
        held += by_media.pop(key)
    trained = [item for key in keys if key in by_media for item in by_media[key]]
    return held, trained


# per question: the chat markers around it (<|im_start|>user ... <|im_end|> <|im_start|>assistant ... <|im_end|>)
_TURN_TOKENS = 10
_CHARS_PER_TOKEN = 3.5
_IMAGE_TOKENS = 64  # a guess: only the ordering of lengths matters, and images in one data set are alike
_VIDEO_TOKENS = 8 * _IMAGE_TOKENS  # a clip is several frames' worth of tokens (their count is known only decoded)


def approximate_tokens(item: TrainItem) -> int:
    """A cheap estimate of an item's sequence length, for batching items of similar length together."""
    total = 0
    for messages in conversations(item):
        for message in messages:
            total += _TURN_TOKENS // 2 + round(len(message.text) / _CHARS_PER_TOKEN)
    images = sum(len(m.images) for m in conversations(item)[0])
    videos = sum(len(m.videos) for m in conversations(item)[0])
    return total + images * _IMAGE_TOKENS + videos * _VIDEO_TOKENS


def length_bucketed_order(lengths: Sequence[int], batch_size: int, rng: random.Random, window: int = 8) -> list[int]:
    """Indices in an order whose consecutive `batch_size` runs are batches of similar length.

    Shuffled, cut into windows of `window` batches, sorted by length inside each window, cut into batches,
    and the batches shuffled again: less padding, while neighbouring steps still see unrelated data (sorting
    whole epochs, or yielding a window's batches in order, would make many steps in a row all long or all
    short rows, and here long rows are a different kind of question).
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    span = batch_size * window
    batches: list[list[int]] = []
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return [i for batch in batches for i in batch]
