"""Grouping single-question rows by image, and the attention mask that keeps a group's questions apart."""

from __future__ import annotations

import torch

from vreason.engine.types import Message, TextPart, VideoPart
from vreason.media.video_types import VideoSampling
from vreason.train.collate import PAD_SEGMENT, branch_attention_mask
from vreason.train.dataset import Example
from vreason.train.grouping import QuestionGroup, approximate_tokens, conversations, group_by_media


def _single(image: str, question: str, answer: str, line: int) -> Example:
    return Example([Message.user(question, [image]), Message.assistant(answer)], line, "data.jsonl")


def _conversation(image: str, line: int) -> Example:
    return Example([Message.user("what color?", [image]), Message.assistant("red"),
                    Message.user("sure?"), Message.assistant("yes")], line, "data.jsonl")


def test_questions_about_one_image_join_one_group_in_data_order():
    rows = [_single("a.png", "q1", "a1", 1), _single("b.png", "q2", "a2", 2), _conversation("a.png", 3),
            _single("a.png", "q3", "a3", 4), _single("b.png", "q4", "a4", 5), _single("c.png", "q5", "a5", 6)]
    items = group_by_media(rows, group_questions=16)
    assert [type(i).__name__ for i in items] == ["QuestionGroup", "QuestionGroup", "Example", "Example"]
    first, second, conversation, alone = items
    assert first.questions() == [("q1", "a1"), ("q3", "a3")]
    assert first.where == "data.jsonl:1,4"
    assert second.questions() == [("q2", "a2"), ("q4", "a4")]
    assert conversation is rows[2]  # a multi-turn conversation trains as it is
    assert alone is rows[5]  # a group of one is the example itself
    assert [m[0].text for m in conversations(first)] == ["q1", "q3"]


def test_groups_are_capped_and_grouping_can_be_turned_off():
    rows = [_single("a.png", f"q{i}", "yes", i) for i in range(1, 8)]
    items = group_by_media(rows, group_questions=3)
    assert [len(i.examples) for i in items if isinstance(i, QuestionGroup)] == [3, 3]
    assert items[-1] is rows[-1]
    assert group_by_media(rows, group_questions=1) == rows


def test_rows_that_cannot_share_an_image_prefix_are_left_alone():
    text_only = Example([Message.user("hello"), Message.assistant("hi")], 1, "d")
    two_images = Example([Message.user("same?", ["a.png", "b.png"]), Message.assistant("no")], 2, "d")
    text_first = Example([Message("user", [*Message.user("look:").content, *Message.user("", ["a.png"]).content]),
                          Message.assistant("ok")], 3, "d")
    rows = [text_only, two_images, text_first, text_only]
    assert group_by_media(rows, 16) == rows


def _clip(source, question: str, line: int, sampling: VideoSampling | None = None) -> Example:
    return Example([Message("user", [VideoPart(source, sampling), TextPart(question)]), Message.assistant("a")],
                   line, "clips.jsonl")


def test_questions_about_one_clip_group_by_source_and_sampling():
    rows = [_clip("a.mp4", "which way?", 1), _clip("b.mp4", "which way?", 2), _clip("a.mp4", "what color?", 3),
            _clip("a.mp4", "how many?", 4, VideoSampling(fps=4)), _clip("a.mp4", "when?", 5, VideoSampling(fps=4)),
            _clip(["f0.png", "f1.png"], "which way?", 6), _clip(["f0.png", "f1.png"], "what color?", 7)]
    items = group_by_media(rows, group_questions=16)
    assert [i.where if isinstance(i, QuestionGroup) else i.line for i in items] == [
        "clips.jsonl:1,3", 2, "clips.jsonl:4,5", 6, 7]  # frames given as a list are not a shared source
    assert isinstance(items[0].media, VideoPart)


def test_a_repeated_question_starts_a_new_group():
    """Clip rows written twice (to weight clips up) make two groups, not one group asking each question twice."""
    once = [_clip("a.mp4", "which way?", 1), _clip("a.mp4", "what color?", 2), _clip("a.mp4", "when?", 3)]
    again = [_clip("a.mp4", "which way?", 4), _clip("a.mp4", "what color?", 5), _clip("a.mp4", "when?", 6)]
    items = group_by_media(once + again, group_questions=16)
    assert [group.where for group in items] == ["clips.jsonl:1,2,3", "clips.jsonl:4,5,6"]


def test_held_out_items_never_share_a_clip_or_image_with_trained_ones():
    import random

    from vreason.train.grouping import hold_out

    rows = [_clip(f"{c}.mp4", q, 10 * c + i) for c in range(20) for copy in range(2) for i, q in enumerate("abc")]
    rows += [Example([Message.user("hello"), Message.assistant("hi")], 900 + i, "d") for i in range(5)]
    items = group_by_media(rows, group_questions=16)
    assert len(items) == 20 * 2 + 5  # each clip's rows twice: two groups per clip
    held, trained = hold_out(items, 0.25, random.Random(0))
    assert len(held) >= len(items) // 4
    assert len(held) + len(trained) == len(items)

    def clips(side):
        return {i.media.source for i in side if isinstance(i, QuestionGroup)}

    assert clips(held)
    assert clips(trained)
    assert not clips(held) & clips(trained)
    assert hold_out(items, 0.0, random.Random(0))[0] == []


def test_length_estimate_orders_items_by_size():
    short = _single("a.png", "q?", "no", 1)
    group = group_by_media([_single("b.png", "what colour is the shape?", "red", i) for i in range(6)], 16)[0]
    assert approximate_tokens(short) < approximate_tokens(group)


def test_branch_mask_shows_the_prefix_to_all_and_each_branch_only_to_itself():
    # prefix of 2 tokens, branch 1 of 2, branch 2 of 2, one pad
    segments = torch.tensor([[0, 0, 1, 1, 2, 2, PAD_SEGMENT]])
    mask = branch_attention_mask(segments)[0, 0]
    assert mask.shape == (7, 7)
    assert mask[4].tolist() == [True, True, False, False, True, False, False]  # branch 2 skips branch 1
    assert mask[3].tolist() == [True, True, True, True, False, False, False]
    assert mask[1].tolist() == [True, True, False, False, False, False, False]  # causal inside the prefix
    assert mask[6, 6]  # padding sees itself: no empty softmax row
    assert not mask[:6, 6].any()  # and nobody sees padding


def test_length_buckets_cut_padding_but_keep_every_item_once():
    import random

    from vreason.train.grouping import length_bucketed_order

    rng = random.Random(0)
    lengths = [rng.choice((20, 40, 300, 400)) + rng.randint(0, 10) for _ in range(640)]

    def padded(order):
        batches = [order[i : i + 16] for i in range(0, len(order), 16)]
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    order = length_bucketed_order(lengths, 16, random.Random(1))
    assert sorted(order) == list(range(640))
    shuffled = list(range(640))
    random.Random(1).shuffle(shuffled)
    assert padded(order) < 0.75 * padded(shuffled)
    assert order == length_bucketed_order(lengths, 16, random.Random(1))
    # long and short batches are interleaved, not run one after another
    longest = [max(lengths[i] for i in order[b : b + 16]) > 250 for b in range(0, 640, 16)]
    assert 0 < sum(longest[:20]) < 20
