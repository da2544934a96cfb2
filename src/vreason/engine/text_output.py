"""Text that comes out of generation: incremental detokenization, stop strings, and the thinking split.

Two paths produce the same answer: `final_text` works on the whole output at once (non-streaming, no stop
strings), the `StreamAssembler` on tokens as they arrive (streaming, or stop strings to find: the one place
they are looked for). Tests hold them equal. No torch here: decoding
is a callable from token ids to text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from vreason.engine.types import StreamDelta

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

Decode = Callable[[Sequence[int]], str]


def truncate_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut `text` at the earliest stop string. Returns (text, whether a stop string was found)."""
    cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def split_thinking(raw: str, opened_in_prompt: bool) -> tuple[str | None, str]:
    """(thinking, answer) from raw model output.

    Qwen3 thinking models open `<think>` in the generation prompt, so their output holds only `</think>`;
    hybrid outputs may carry both tags. Output with no closing tag is all thinking when the prompt opened it
    (generation was cut off mid-thought), else all answer.
    """
    body = raw
    opened = opened_in_prompt
    if body.lstrip().startswith(THINK_OPEN):
        body = body.lstrip()[len(THINK_OPEN) :]
        opened = True
    if THINK_CLOSE in body:
        thinking, answer = body.split(THINK_CLOSE, 1)
        return thinking.strip(), answer.lstrip()
    if opened:
        return body.strip(), ""
    return None, raw


def final_text(token_ids: Sequence[int], decode: Decode, thinking_prompt: bool) -> tuple[str | None, str]:
    """(thinking, answer) of a finished generation with no stop strings, decoded at once."""
    return split_thinking(decode(token_ids), thinking_prompt)


class IncrementalDetokenizer:
    """Emits text as tokens arrive without splitting multi-byte characters.

    Decodes a small window of recent ids (the approach of TGI and vLLM): the text of ids[prefix:] minus the
    text of ids[prefix:read] is new, unless it ends in U+FFFD, the sign of an unfinished UTF-8 sequence.
    """

    def __init__(self, decode: Decode):
        self._decode = decode
        self._ids: list[int] = []
        self._prefix = 0
        self._read = 0

    def push(self, token_id: int) -> str:
        self._ids.append(token_id)
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        full_text = self._decode(self._ids[self._prefix :])
        if len(full_text) > len(prefix_text) and not full_text.endswith("\ufffd"):
            new = full_text[len(prefix_text) :]
            self._prefix = self._read
            self._read = len(self._ids)
            return new
        return ""

    def flush(self) -> str:
        """Whatever is still held back at the end (an incomplete character decodes as U+FFFD)."""
        prefix_text = self._decode(self._ids[self._prefix : self._read])
        full_text = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return full_text[len(prefix_text) :]


class StreamAssembler:
    """Turns generated token ids into `StreamDelta`s on the text and thinking channels.

    Holds back any tail that could be the start of a stop string, and the whitespace right after
    `</think>`, so that the concatenated deltas equal what `final_text` returns for the same ids.
    """

    def __init__(self, decode: Decode, stop: Sequence[str], thinking_prompt: bool):
        self._detok = IncrementalDetokenizer(decode)
        self._stop = tuple(stop)
        self._thinking_prompt = thinking_prompt
        self._raw = ""  # all text so far, before the stop cut
        self._released = 0  # chars of _raw already routed to a channel
        self.stopped = False
        # Channel state: "start" (not yet known whether output opens with <think>), "thinking" or "text".
        self._state = "thinking" if thinking_prompt else "start"
        self._pending = ""  # released text not yet routed (tag detection needs look-ahead)
        self._text_started = False

    def push(self, token_id: int) -> list[StreamDelta]:
        if self.stopped:
            return []
        self._raw += self._detok.push(token_id)
        return self._release(final=False)

    def finish(self) -> list[StreamDelta]:
        if not self.stopped:
            self._raw += self._detok.flush()
        return self._release(final=True)

    def result(self) -> tuple[str | None, str]:
        """(thinking, answer) of everything pushed, cut at the stop string: what the deltas add up to."""
        return split_thinking(truncate_at_stop(self._raw, self._stop)[0], self._thinking_prompt)

    def _release(self, final: bool) -> list[StreamDelta]:
        cut, found = truncate_at_stop(self._raw, self._stop)
        if found:
            self.stopped = True
            final = True
            end = len(cut)
        elif final:
            end = len(self._raw)
        else:
            end = len(self._raw) - _longest_stop_prefix(self._raw, self._stop)
        if end > self._released:
            self._pending += self._raw[self._released : end]
            self._released = end
        return self._route(final)

    def _route(self, final: bool) -> list[StreamDelta]:
        out: list[StreamDelta] = []
        while self._pending:
            if self._state == "start":
                stripped = self._pending.lstrip()
                if not stripped and not final:
                    break
                if THINK_OPEN.startswith(stripped[: len(THINK_OPEN)]) and len(stripped) < len(THINK_OPEN):
                    if final:
                        self._state = "text"
                        continue
                    break
                if stripped.startswith(THINK_OPEN):
                    self._pending = stripped[len(THINK_OPEN) :]
                    self._state = "thinking"
                else:
                    self._state = "text"
                continue
            if self._state == "thinking":
                idx = self._pending.find(THINK_CLOSE)
                if idx >= 0:
                    out.append(StreamDelta("thinking", self._pending[:idx]))
                    self._pending = self._pending[idx + len(THINK_CLOSE) :]
                    self._state = "after_think"
                    continue
                keep = 0 if final else _partial_suffix(self._pending, THINK_CLOSE)
                emit = self._pending[: len(self._pending) - keep]
                if emit:
                    out.append(StreamDelta("thinking", emit))
                self._pending = self._pending[len(emit) :]
                break
            if self._state == "after_think":
                stripped = self._pending.lstrip()
                if not stripped:
                    self._pending = ""
                    break
                self._pending = stripped
                self._state = "text"
                continue
            out.append(StreamDelta("text", self._pending))
            self._pending = ""
        return [d for d in out if d.text]


def _longest_stop_prefix(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of some stop string."""
    best = 0
    for stop in stops:
        best = max(best, _partial_suffix(text, stop))
    return best


def _partial_suffix(text: str, tag: str) -> int:
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0
