"""Incremental detokenization, stop strings and the thinking split: the streaming path must produce exactly
what the whole-output path produces, for any way the text is cut into tokens."""

from __future__ import annotations

import random

import pytest

from vreason.engine.text_output import (
    IncrementalDetokenizer,
    StreamAssembler,
    final_text,
    split_thinking,
    truncate_at_stop,
)


class ByteVocab:
    """A toy tokenizer whose tokens are byte strings, so multi-byte characters can be split across tokens."""

    def __init__(self):
        self.pieces: list[bytes] = []

    def encode_random(self, text: str, rng: random.Random) -> list[int]:
        data = text.encode()
        ids, i = [], 0
        while i < len(data):
            step = rng.randint(1, 4)
            self.pieces.append(data[i : i + step])
            ids.append(len(self.pieces) - 1)
            i += step
        return ids

    def decode(self, ids) -> str:
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")


def _stream(vocab, ids, stop=(), thinking_prompt=False):
    assembler = StreamAssembler(vocab.decode, stop, thinking_prompt)
    deltas = [d for i in ids for d in assembler.push(i)] + assembler.finish()
    text = "".join(d.text for d in deltas if d.channel == "text")
    thinking = "".join(d.text for d in deltas if d.channel == "thinking")
    return text, thinking


CASES = [
    ("The shape is a red circle.", (), False),
    ("颜色是红色 — 形状是圆形 🙂 done", (), False),
    ("<think>\nIt is round and red.\n</think>\n\nA red circle.", (), False),
    ("\nround, red\n</think>\n\ncircle", (), True),
    ("still thinking when cut off", (), True),
    ("answer: 42 STOP and more text", ("STOP",), False),
    ("abc <end> def <e", ("<end>", "<e"), False),
    ("no stop here but <en", ("<end>",), False),
    ("<thi", (), False),
]


@pytest.mark.parametrize(("raw", "stop", "thinking_prompt"), CASES)
def test_stream_equals_final_for_any_tokenization(raw, stop, thinking_prompt):
    rng = random.Random(7)
    for _ in range(30):
        vocab = ByteVocab()
        ids = vocab.encode_random(raw, rng)
        # the whole text at once, cut at the first stop string: what the stream must add up to
        thinking, text = split_thinking(truncate_at_stop(vocab.decode(ids), stop)[0], thinking_prompt)
        streamed_text, streamed_thinking = _stream(vocab, ids, stop, thinking_prompt)
        assert streamed_text == text
        assert streamed_thinking.strip() == (thinking or "")
        if not stop:
            assert final_text(ids, vocab.decode, thinking_prompt) == (thinking, text)


def test_detokenizer_never_emits_half_characters():
    vocab = ByteVocab()
    ids = vocab.encode_random("日本語テキスト", random.Random(1))
    detok = IncrementalDetokenizer(vocab.decode)
    pieces = [detok.push(i) for i in ids] + [detok.flush()]
    assert "".join(pieces) == "日本語テキスト"
    assert all("\ufffd" not in p for p in pieces)


def test_stop_strings_cut_and_are_not_returned():
    vocab = ByteVocab()
    ids = vocab.encode_random("yes. User: next question", random.Random(3))
    assembler = StreamAssembler(vocab.decode, ("User:",), False)
    for token in ids:
        assembler.push(token)
    assembler.finish()
    assert (assembler.result(), assembler.stopped) == ((None, "yes. "), True)
    assert _stream(vocab, ids, ("User:",))[0] == "yes. "


@pytest.mark.parametrize(
    ("raw", "opened", "expected"),
    [
        ("<think>a</think>b", False, ("a", "b")),
        ("a\n</think>\n\nb", True, ("a", "b")),
        ("just an answer", False, (None, "just an answer")),
        ("cut off mid-thought", True, ("cut off mid-thought", "")),
        ("<think>never closed", False, ("never closed", "")),
    ],
)
def test_split_thinking(raw, opened, expected):
    assert split_thinking(raw, opened) == expected
