"""Structured answers: ask with a pydantic model or a JSON schema, get a validated object back.

The schema travels to the engine as `OutputFormat("json_schema", ...)`, whose constrained decoding makes the
output parse and match the schema's structure; the question also states the schema, so that a backend
without constrained decoding is asked for the same thing. The output is then validated here in any case
(pydantic's own rules, or the full JSON-schema vocabulary via `jsonschema`), and an answer that does not
validate is asked again with the error (`retries`) before `StructuredOutputError` is raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vreason.engine.sampling import OutputFormat
from vreason.engine.types import Answer, Message
from vreason.errors import InvalidRequestError, VReasonError
from vreason.reasoning.image_args import as_image_list

if TYPE_CHECKING:
    from vreason.api import Images, VReason

MAX_RETRIES = 5
_FENCE = re.compile(r"```(?:json)?\s*(.*?)(?:```|$)", re.S)
SCHEMA_INSTRUCTION = "Reply with JSON only, matching this JSON schema: {schema}"
RETRY_INSTRUCTION = "That reply was not valid: {error}. Reply again with JSON only, matching the schema."


class StructuredOutputError(VReasonError):
    """The model's output did not parse as JSON or did not validate against the schema."""

    def __init__(self, message: str, raw_output: str, attempts: int):
        self.raw_output = raw_output
        self.attempts = attempts
        super().__init__(message)


@dataclass(frozen=True)
class Schema:
    json_schema: dict  # what the engine enforces and the prompt states
    model: type | None = None  # a pydantic model class: validation builds an instance of it

    @property
    def text(self) -> str:
        return json.dumps(self.json_schema, separators=(",", ":"))

    def output_format(self) -> OutputFormat:
        return OutputFormat("json_schema", self.text)

    def validate(self, data: Any) -> Any:
        """The validated value (a model instance, or `data` itself); raises ValueError naming what is wrong."""
        if self.model is not None:
            return self.model.model_validate(data)  # pydantic's ValidationError is a ValueError
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(self.json_schema).iter_errors(data), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.path) or "(root)"
            raise ValueError(f"at {where}: {first.message}")
        return data


def as_schema(schema: Any) -> Schema:
    """A pydantic model class, a JSON schema dict, or the schema as JSON text."""
    if isinstance(schema, type) and hasattr(schema, "model_json_schema") and hasattr(schema, "model_validate"):
        return Schema(schema.model_json_schema(), schema)
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as err:
            message = f"the schema is not valid JSON ({err.msg} at {err.pos})"
            raise InvalidRequestError(message, param="schema") from None
    if not isinstance(schema, dict):
        raise InvalidRequestError(
            f"schema must be a pydantic model class, a JSON schema dict or its JSON text, got {type(schema).__name__}",
            param="schema",
        )
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise InvalidRequestError(f"the schema is not a valid JSON schema: {err.message}", param="schema") from None
    return Schema(schema)


def parse_json(text: str) -> Any:
    """The JSON value in `text`: the whole text, a fenced block, or the first value that starts a line of prose."""
    stripped = text.strip()
    fenced = _FENCE.search(stripped)
    body = fenced.group(1).strip() if fenced else stripped
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        pass
    starts = [i for i in (body.find("{"), body.find("[")) if i >= 0]
    if starts:
        try:
            return json.JSONDecoder().raw_decode(body, min(starts))[0]
        except json.JSONDecodeError:
            pass
    raise ValueError(f"no JSON value in the output ({_preview(text)})")


@dataclass
class StructuredAnswer:
    value: Any  # the validated object: an instance of the pydantic model, or the JSON value
    data: Any  # the JSON value as parsed
    answer: Answer  # the last request's answer (text, usage, timings)
    attempts: int  # requests made (1 + retries used)


def ask_structured(
    vr: VReason, images: Images, question: str, schema: Any, *, retries: int = 1, **sampling: Any
) -> StructuredAnswer:
    """Ask about `images` and get an object valid under `schema` (pydantic model class or JSON schema)."""
    return chat_structured(vr, [Message.user(question, as_image_list(images))], schema, retries=retries, **sampling)


def chat_structured(
    vr: VReason, messages: Sequence[Message], schema: Any, *, retries: int = 1, instruct: bool = True,
    **sampling: Any,
) -> StructuredAnswer:
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise InvalidRequestError(f"retries ({retries!r}) must be an integer from 0 to {MAX_RETRIES}", param="retries")
    spec = as_schema(schema)
    conversation = list(messages)
    if instruct:
        conversation[-1] = _with_instruction(conversation[-1], SCHEMA_INSTRUCTION.format(schema=spec.text))
    sampling = {**sampling, "output_format": spec.output_format()}
    error = ""
    for attempt in range(1, retries + 2):
        answer = vr.chat(conversation, **sampling)
        try:
            data = parse_json(answer.text)
            return StructuredAnswer(spec.validate(data), data, answer, attempt)
        except ValueError as err:
            error = " ".join(str(err).split())
        conversation += [Message.assistant(answer.text), Message.user(RETRY_INSTRUCTION.format(error=error))]
    raise StructuredOutputError(
        f"the model's answer did not match the schema after {retries + 1} attempt(s): {error[:300]}",
        raw_output=answer.text,
        attempts=retries + 1,
    )


def _with_instruction(message: Message, instruction: str) -> Message:
    if message.role != "user":
        raise InvalidRequestError("the last message must be the user's question", param="messages")
    text = message.text.rstrip()
    return Message.user(f"{text}\n\n{instruction}" if text else instruction, message.images)


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[:limit] + "...")
