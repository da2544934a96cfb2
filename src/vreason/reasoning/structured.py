"""Structured answers: ask with a pydantic model or a JSON schema, get a validated object back.

The schema travels to the engine as `OutputFormat("json_schema", ...)`, whose constrained decoding makes the
output parse and match the schema's structure; the question also states the schema, so that a backend
without constrained decoding is asked for the same thing. The output is then validated here in any case
(pydantic's own rules, or the full JSON-schema vocabulary via `jsonschema`), and an answer that does not
validate is asked again with the error (`retries`) before `StructuredOutputError` is raised.

`aask_structured` / `achat_structured` run over an `AsyncVReason`; `ask_structured` / `chat_structured` are their
blocking forms over a `VReason`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vreason.engine.sampling import OutputFormat
from vreason.engine.types import Answer, Message
from vreason.errors import InvalidRequestError
from vreason.reasoning.image_args import as_image_list
from vreason.reasoning.json_output import StructuredOutputError, parse_json, schema_errors

if TYPE_CHECKING:
    from vreason.api import VReason
    from vreason.async_api import AsyncVReason, Images

MAX_RETRIES = 5
SCHEMA_INSTRUCTION = "Reply with JSON only, matching this JSON schema: {schema}"
RETRY_INSTRUCTION = "That reply was not valid: {error}. Reply again with JSON only, matching the schema."


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
        errors = schema_errors(data, self.json_schema)
        if errors:
            raise ValueError(f"at {errors[0]}")
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


@dataclass
class StructuredAnswer:
    value: Any  # the validated object: an instance of the pydantic model, or the JSON value
    data: Any  # the JSON value as parsed
    answer: Answer  # the last request's answer (text, usage, timings)
    attempts: int  # requests made (1 + retries used)


async def aask_structured(
    vr: AsyncVReason, images: Images, question: str, schema: Any, *, retries: int = 1, **sampling: Any
) -> StructuredAnswer:
    """Ask about `images` and get an object valid under `schema` (pydantic model class or JSON schema)."""
    messages = [Message.user(question, as_image_list(images))]
    return await achat_structured(vr, messages, schema, retries=retries, **sampling)


def ask_structured(
    vr: VReason, images: Images, question: str, schema: Any, *, retries: int = 1, **sampling: Any
) -> StructuredAnswer:
    """Ask about `images` and get an object valid under `schema` (pydantic model class or JSON schema)."""
    return vr.run(aask_structured(vr.aio, images, question, schema, retries=retries, **sampling))


async def achat_structured(
    vr: AsyncVReason, messages: Sequence[Message], schema: Any, *, retries: int = 1, instruct: bool = True,
    **sampling: Any,
) -> StructuredAnswer:
    """The answer to `messages` (the last one the user's question) as an object valid under `schema`."""
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise InvalidRequestError(f"retries ({retries!r}) must be an integer from 0 to {MAX_RETRIES}", param="retries")
    spec = as_schema(schema)
    conversation = list(messages)
    if instruct:
        conversation[-1] = _with_instruction(conversation[-1], SCHEMA_INSTRUCTION.format(schema=spec.text))
    sampling = {**sampling, "output_format": spec.output_format()}
    error = ""
    for attempt in range(1, retries + 2):
        answer = await vr.chat(conversation, **sampling)
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


def chat_structured(
    vr: VReason, messages: Sequence[Message], schema: Any, *, retries: int = 1, instruct: bool = True,
    **sampling: Any,
) -> StructuredAnswer:
    """The answer to `messages` (the last one the user's question) as an object valid under `schema`."""
    return vr.run(achat_structured(vr.aio, messages, schema, retries=retries, instruct=instruct, **sampling))


def _with_instruction(message: Message, instruction: str) -> Message:
    if message.role != "user":
        raise InvalidRequestError("the last message must be the user's question", param="messages")
    text = message.text.rstrip()
    return Message.user(f"{text}\n\n{instruction}" if text else instruction, message.images)

