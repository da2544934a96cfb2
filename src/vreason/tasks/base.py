"""A task pack: one declarative unit that turns an image (and a few fields) into a structured answer, and
measures it. Each pack is a `TaskPack` value built by its module: prompt templates, the output JSON schema, a
lenient reader for the model's JSON, a scorer over prediction records, a sample-data generator and its limits.

The pack knows nothing about engines or files of predictions: `vreason task run` and `vreason eval --task`
call `messages`, `output_format` and `read` the same way, so one prompt serves both.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vreason.errors import InvalidRequestError
from vreason.reasoning.json_output import parse_json_object, schema_errors

if TYPE_CHECKING:
    from vreason.engine.sampling import OutputFormat
    from vreason.engine.types import Message
    from vreason.scoring.items import EvalItem
    from vreason.scoring.records import PredictionRecord, ScoreResult


@dataclass(frozen=True)
class Reading:
    """A model answer read as the task's output."""

    value: dict[str, Any]  # normalised by the pack: the fields its scorer and users rely on
    schema_problems: list[str]  # where the raw JSON broke the schema (the reader repaired what it could)
    truncated: bool = False  # the JSON was cut off (max_new_tokens) and read up to its last complete value


@dataclass(frozen=True)
class TaskPack:
    name: str  # what `vreason task run NAME` and `vreason eval --task NAME` take
    title: str
    summary: str  # one line for `vreason task list`
    system_prompt: str
    user_template: str  # str.format fields: the item's fields, `question`, and `template_fields`
    schema: dict[str, Any]  # JSON schema of the answer: sent for constrained decoding, checked on every answer
    normalize: Callable[[dict[str, Any]], dict[str, Any]]  # lenient reading; raises StructuredOutputError when hopeless
    score: Callable[[Sequence[PredictionRecord]], ScoreResult]
    make_samples: Callable[[Path, int, int], Path]  # (directory, count, seed) -> a JSONL file `eval` reads
    limits: str  # what the pack cannot do; printed by `vreason task show` and in the docs
    notice: str | None = None  # added to every answer (the medical pack: decision support, not a diagnosis)
    template_fields: dict[str, str] = field(default_factory=dict)  # defaults for placeholders
    all_images_one_item: bool = False  # True: `task run A.png B.png` is one item with two pages
    # Template values computed from the others (the essay pack turns a typed `text` into its `essay` block).
    derive_fields: Callable[[dict[str, str]], dict[str, str]] | None = None
    max_new_tokens: int = 384
    config: str | None = None  # the config file it was built from (a taxonomy, a rubric); None: the shipped one

    def prompt(self, item: EvalItem) -> str:
        values = {**self.template_fields, **{k: _text(v) for k, v in item.fields.items()}, "question": item.question}
        if self.derive_fields is not None:
            values.update(self.derive_fields(values))
        needed = {name for _, name, _, _ in string.Formatter().parse(self.user_template) if name}
        missing = sorted(needed - values.keys())
        if missing:
            raise InvalidRequestError(
                f"task {self.name} needs the field(s) {', '.join(missing)} (JSONL key, or --field KEY=VALUE)")
        return self.user_template.format_map(values)

    def messages(self, item: EvalItem) -> list[Message]:
        from vreason.engine.types import Message

        return [Message.system(self.system_prompt), Message.user(self.prompt(item), item.images)]

    def output_format(self) -> OutputFormat:
        from vreason.engine.sampling import OutputFormat

        return OutputFormat("json_schema", json.dumps(self.schema))

    def read(self, text: str) -> Reading:
        """The model's answer as this task's output. Raises StructuredOutputError when no JSON object can be read."""
        raw, truncated = parse_json_object(text)
        value = self.normalize(raw)
        if self.notice:
            value = {**value, "notice": self.notice}
        return Reading(value, schema_errors(raw, self.schema), truncated)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
