"""The OpenAI Chat Completions wire format: pydantic models for requests and responses.

Requests validate themselves (types, ranges, supported content parts) and convert into the engine's
dataclasses with `to_messages()` and `to_sampling_params(defaults)`; nothing past this module sees pydantic.
Fields OpenAI defines that vreason cannot honour (tools, logprobs, logit_bias, audio) are refused with a 400
rather than ignored. Text that is not valid Unicode (a lone UTF-16 surrogate such as "\\ud800", which JSON can
spell) is refused with a 400 naming the field, anywhere in the body; `reject_lone_surrogates` does the same for
every other request model. System and user messages need content (OpenAI answers 400 for null); an assistant
message may carry none (OpenAI's tool-call turns). Extensions shared with vLLM: top_k, repetition_penalty; and
min_pixels / max_pixels for the per-image pixel budget.

Video parts (`video_url`, as vLLM and SGLang take them, and Qwen's `video` with a clip or a list of frames and
their timestamps) are server/video_parts.py's.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from vreason.engine.sampling import OutputFormat, SamplingParams
from vreason.engine.types import ImagePart, Message, Part, TextPart
from vreason.errors import InvalidRequestError
from vreason.server.memory_chat import MemoryOptions
from vreason.server.video_parts import IMAGE_URL_SCHEMES, VideoContent, VideoFramesContent, parse_video_part

ROLE_MAP = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
# Roles whose message may have no content (an assistant turn that only called tools, in OpenAI's format).
CONTENT_OPTIONAL_ROLES = ("assistant",)
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def find_lone_surrogate(value: Any, path: str = "") -> str | None:
    """Where in a parsed JSON value a string (or object key) holds a lone surrogate, as 'messages[0].content',
    or None. Python strings from `json.loads` can hold them; no tokenizer or UTF-8 encoder accepts them."""
    if isinstance(value, str):
        return path if LONE_SURROGATE.search(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and LONE_SURROGATE.search(key):
                return path or "body"
            found = find_lone_surrogate(item, where)
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = find_lone_surrogate(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def reject_lone_surrogates(data: Any) -> Any:
    """A `model_validator(mode="before")` body for request models: a 400 naming the field, not a 500 later."""
    where = find_lone_surrogate(data)
    if where is not None:
        raise PydanticCustomError(
            "lone_surrogate",
            "not valid Unicode text (it holds a lone UTF-16 surrogate such as \\ud800); send UTF-8 text or a "
            "surrogate pair",
            {"param": where or "body"},
        )
    return data


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextContent(_Model):
    type: Literal["text"] = "text"
    text: str


class ImageURL(_Model):
    url: str
    detail: Literal["auto", "low", "high"] | None = None  # accepted; the pixel budget decides the detail

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        if not url.strip().lower().startswith(IMAGE_URL_SCHEMES):
            shown = url if len(url) <= 60 else url[:60] + "..."
            raise ValueError(f"image_url.url {shown!r} must be an http(s) URL, a data: URI or a file:// URL")
        return url.strip()


class ImageContent(_Model):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = TextContent | ImageContent | VideoContent | VideoFramesContent


def _parse_part(index: int, item: Any) -> ContentPart:
    if isinstance(item, str):
        return TextContent(text=item)
    if not isinstance(item, dict):
        raise ValueError(f"part {index} must be an object with a 'type', got {type(item).__name__}")
    kind = item.get("type")
    if kind == "text":
        return TextContent.model_validate(item)
    if kind == "image_url":
        image = item.get("image_url")
        if isinstance(image, str):  # some clients send the URL directly
            image = {"url": image}
        return ImageContent(image_url=ImageURL.model_validate(image))
    if kind in ("video_url", "video"):
        return parse_video_part(index, item)
    raise ValueError(
        f"part {index} has type {kind!r}; supported content part types are 'text', 'image_url', 'video_url' and 'video'"
    )


class ChatMessage(_Model):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    # Required (not null) except for CONTENT_OPTIONAL_ROLES; validated even when absent, see _parts.
    content: str | list[ContentPart] | None = Field(default=None, validate_default=True)
    name: str | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _parts(cls, content: Any, info: ValidationInfo) -> Any:
        role = info.data.get("role")
        if content is None and role is not None and role not in CONTENT_OPTIONAL_ROLES:
            raise ValueError(f"a {role} message needs content (a string or a list of parts), not null")
        if isinstance(content, list):
            return [_parse_part(i, item) for i, item in enumerate(content)]
        if content is not None and not isinstance(content, str):
            raise ValueError(f"content must be a string or a list of parts, got {type(content).__name__}")
        return content


class JsonSchemaSpec(_Model):
    name: str = "response"
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Model):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaSpec | None = None


class StreamOptions(_Model):
    include_usage: bool = False


class ChatCompletionRequest(_Model):
    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = None
    top_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1)
    response_format: ResponseFormat | None = None
    user: str | None = None
    # Refused when used (see _check_unsupported).
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, float] | None = None
    tools: list[Any] | None = None
    tool_choice: Any = None
    functions: list[Any] | None = None
    audio: Any = None
    modalities: list[str] | None = None
    # Extensions (vLLM's names).
    top_k: int | None = None
    repetition_penalty: float | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    # vreason's own: recall from (and write to) the memory of the key's user, see server/memory_chat.py.
    memory: MemoryOptions | None = None

    @model_validator(mode="before")
    @classmethod
    def _valid_unicode(cls, data: Any) -> Any:
        return reject_lone_surrogates(data)

    def check_supported(self) -> None:
        unsupported = {
            "logprobs": bool(self.logprobs) or self.top_logprobs is not None,
            "logit_bias": bool(self.logit_bias),
            "tools": bool(self.tools) or bool(self.functions),
            "tool_choice": self.tool_choice not in (None, "none", "auto"),
            "audio": self.audio is not None or "audio" in (self.modalities or ()),
        }
        for param, used in unsupported.items():
            if used:
                raise InvalidRequestError(f"{param} is not supported by this server", param=param)

    def to_messages(self) -> list[Message]:
        messages: list[Message] = []
        for i, message in enumerate(self.messages):
            role = ROLE_MAP.get(message.role)
            if role is None:
                raise InvalidRequestError(
                    f"messages[{i}]: role {message.role!r} is not supported (no tool calling); use system, "
                    "developer, user or assistant",
                    param=f"messages[{i}].role",
                )
            messages.append(Message(role, _engine_parts(message.content)))  # type: ignore[arg-type]
        return messages

    def to_sampling_params(self, defaults: SamplingParams) -> SamplingParams:
        """`defaults` (the model's recommended values) with what the request sets; values validated there."""
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop) if self.stop is not None else None
        return defaults.updated(
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            max_new_tokens=self.max_completion_tokens or self.max_tokens,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            stop=stop,
            output_format=self.output_format(),
        )

    def output_format(self) -> OutputFormat | None:
        fmt = self.response_format
        if fmt is None or fmt.type == "text":
            return None
        if fmt.type == "json_object":
            return OutputFormat("json_object")
        if fmt.json_schema is None or fmt.json_schema.schema_ is None:
            raise InvalidRequestError(
                "response_format json_schema needs json_schema.schema (a JSON schema object)", param="response_format"
            )
        return OutputFormat("json_schema", json.dumps(fmt.json_schema.schema_))

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def _engine_parts(content: str | list[ContentPart] | None) -> list[Part]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    return [_engine_part(part) for part in content]


def _engine_part(part: ContentPart) -> Part:
    if isinstance(part, TextContent):
        return TextPart(part.text)
    if isinstance(part, VideoContent | VideoFramesContent):
        return part.to_part()
    return ImagePart(part.image_url.url)


# Responses. Serialized with exclude_none, so optional fields appear only when they carry something.


class UsageInfo(_Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class AssistantMessage(_Model):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    reasoning_content: str | None = None  # a thinking model's reasoning (vLLM and DeepSeek's field name)


class Choice(_Model):
    index: int
    message: AssistantMessage
    finish_reason: str | None = None


class ChatCompletion(_Model):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: UsageInfo
    vreason: dict[str, Any] | None = None  # {"memory": {...}} when the request asked for memory


class DeltaMessage(_Model):
    role: Literal["assistant"] | None = None
    content: str | None = None
    reasoning_content: str | None = None


class ChunkChoice(_Model):
    index: int
    delta: DeltaMessage
    finish_reason: str | None = None


class ChatCompletionChunk(_Model):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: UsageInfo | None = None
    vreason: dict[str, Any] | None = None  # the memory report, in the last chunk before [DONE]


class ModelCard(_Model):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "vreason"
    # vreason's own: the built-in demo model or one trained from it (its tokenizer is the demo's), so that a
    # RemoteEngine in front of this server asks memory's demo question forms of it whatever name it is served under
    demo_family: bool = False


class ModelList(_Model):
    object: Literal["list"] = "list"
    data: list[ModelCard]
