"""A model's JSON answer, read leniently: the one place that finds JSON in answer text, repairs a cut-off tail,
checks a value against a JSON schema, and names the error for output that cannot be read.

Constrained decoding (`OutputFormat("json_schema", ...)`) makes the output valid JSON when the engine enforces
it; readers still cope with engines that do not (remote backends, older builds): a ```json fence, prose
around the value, a thinking block, an answer stopped by max_new_tokens. Used by structured answers and
grounding (`vreason.reasoning`) and by the task packs (`vreason.tasks`). No model, no engine.
"""

from __future__ import annotations

import json
import re
from typing import Any

from vreason.errors import VReasonError

# The first fenced block (```json or bare ```); an unclosed fence runs to the end of the text.
FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.S)
# A thinking block is never the answer, even when it holds JSON; an unclosed one runs to the end of the text.
THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S)
PREVIEW_CHARS = 80  # of the answer quoted in error messages
TRUNCATION_CUTS = 64  # cut points `close_truncated` tries, from the end


class StructuredOutputError(VReasonError):
    """The model's output could not be read as the JSON asked for: no JSON value in it, JSON that does not
    parse, or JSON that breaks the schema. `raw_output` is the answer as written; `attempts` is how many
    answers were asked for (1 + the retries used)."""

    def __init__(self, message: str, raw_output: str, attempts: int = 1):
        self.raw_output = raw_output
        self.attempts = attempts
        super().__init__(message)

    @classmethod
    def unreadable(cls, problem: str, raw_output: str) -> StructuredOutputError:
        """One answer that could not be read as a task's output; the message quotes the start of it."""
        return cls(f"{problem}; the model answered {preview(raw_output)} "
                   "(a real model, or constrained decoding, is needed for reliable JSON)", raw_output)


def json_region(text: str) -> str:
    """The part of an answer that holds its JSON: thinking blocks removed, then the first fenced block's
    content when there is one, else the whole text."""
    body = THINKING.sub("", text)
    fenced = FENCE.search(body)
    return fenced.group(1) if fenced else body


def json_start(body: str, begin: int = 0, openers: str = "{[") -> int:
    """Where the first JSON object or array (the brackets in `openers`) may start at or after `begin`; -1: none."""
    found = [i for i in (body.find(ch, begin) for ch in openers) if i >= 0]
    return min(found, default=-1)


def parse_json(text: str) -> Any:
    """The JSON value in `text`: the whole text, a fenced block, or the first value that starts a line of prose.
    Raises ValueError naming the output when there is none."""
    body = json_region(text).strip()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    start = json_start(body)
    if start >= 0:
        try:
            return json.JSONDecoder().raw_decode(body, start)[0]
        except json.JSONDecodeError:
            pass
    raise ValueError(f"no JSON value in the output ({preview(text)})")


def parse_json_object(text: str) -> tuple[dict[str, Any], bool]:
    """The first JSON object in `text`, and whether it had to be cut back to its last complete value (an
    answer stopped by max_new_tokens). Raises StructuredOutputError when there is none to read."""
    body = json_region(text)
    start = json_start(body, openers="{")
    if start < 0:
        raise StructuredOutputError.unreadable("the answer holds no JSON object", text)
    repaired = False
    try:
        value, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError as err:
        value = close_truncated(body[start:])
        if value is None:
            raise StructuredOutputError.unreadable(
                f"the answer's JSON does not parse ({err.msg} at character {err.pos})", text) from None
        repaired = True
    if not isinstance(value, dict):
        raise StructuredOutputError.unreadable("the answer's JSON is not an object", text)
    return value, repaired


def close_truncated(body: str, attempts: int = TRUNCATION_CUTS) -> Any | None:
    """Read a JSON text that was cut off: drop the tail back to the last complete value and close the open
    brackets. Tries cut points from the end (after a closing bracket, before a comma); None if none works."""
    cuts = []  # (position, brackets open there)
    stack: list[str] = []
    in_string = escaped = False
    for i, ch in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            continue
        if ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}":
            if not stack:
                break
            stack.pop()
            if stack:
                cuts.append((i + 1, "".join(reversed(stack))))
        elif ch == "," and stack:
            cuts.append((i, "".join(reversed(stack))))
    for position, closers in reversed(cuts[-attempts:]):
        try:
            return json.loads(body[:position] + closers)
        except json.JSONDecodeError:
            continue
    return None


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Where `value` breaks the JSON schema `schema` (empty when it conforms): one `path: problem` line per
    problem, in path order, `(root)` for the value itself."""
    try:
        from jsonschema import Draft202012Validator
    except ImportError:
        raise VReasonError("checking answers against a JSON schema needs jsonschema: "
                           "pip install 'vreason[eval]'") from None

    # (is a key, key or index): one instance path never mixes both at a depth, the tag keeps sorting total anyway.
    errors = sorted(Draft202012Validator(schema).iter_errors(value),
                    key=lambda e: [(isinstance(p, str), p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The start of an answer for an error message: whitespace collapsed, quoted, cut at `limit` characters."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
