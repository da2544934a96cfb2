"""Read fine-tuning data: JSONL, one conversation per line, in either of two forms.

Full form (Qwen / OpenAI style):
    {"messages": [{"role": "user", "content": [{"type": "image", "image": "img/1.png"},
                                               {"type": "text", "text": "What colour?"}]},
                  {"role": "assistant", "content": "red"}]}
Short form:
    {"image": "img/1.png", "question": "What colour?", "answer": "red"}   ("image" may be a list)

Relative image paths are relative to the JSONL file. A bad row (not JSON, wrong shape, missing image) is
a `DatasetError` naming the file and line, unless `skip_bad` is set: then it is skipped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vreason.engine.types import ImagePart, Message
from vreason.errors import InvalidRequestError, VReasonError


class DatasetError(VReasonError):
    pass


@dataclass
class Example:
    messages: list[Message]
    line: int  # 1-based line in the source file, for error messages
    source: str

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


@dataclass
class LoadedDataset:
    examples: list[Example]
    skipped: list[str] = field(default_factory=list)  # "file:line: reason" for each skipped row


def read_jsonl(path: str | Path, skip_bad: bool = False) -> LoadedDataset:
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"dataset {path} does not exist")
    base = path.parent
    out = LoadedDataset(examples=[])
    with path.open(encoding="utf-8") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                messages = parse_row(json.loads(raw), base)
                out.examples.append(Example(messages, number, str(path)))
            except (json.JSONDecodeError, DatasetError, InvalidRequestError, TypeError, AttributeError) as err:
                reason = f"{path}:{number}: {_reason(err)}"
                if not skip_bad:
                    raise DatasetError(reason + " (use --skip-bad-rows to skip such rows)") from None
                out.skipped.append(reason)
    if not out.examples:
        raise DatasetError(f"dataset {path} has no usable rows")
    return out


def parse_row(row: dict, base: Path) -> list[Message]:
    if not isinstance(row, dict):
        raise DatasetError("a row must be a JSON object")
    if "messages" in row:
        messages = [Message.from_dict(m) for m in row["messages"]]
    elif {"question", "answer"} <= row.keys():
        images = row.get("image") or row.get("images") or []
        images = [images] if isinstance(images, str) else list(images)
        messages = [Message.user(str(row["question"]), images), Message.assistant(str(row["answer"]))]
    else:
        raise DatasetError('a row needs "messages", or "question" and "answer" (with "image")')
    if not any(m.role == "assistant" and m.text for m in messages):
        raise DatasetError("the conversation has no assistant answer to learn")
    return [_resolve_images(m, base) for m in messages]


def _resolve_images(message: Message, base: Path) -> Message:
    parts = []
    for part in message.content:
        if isinstance(part, ImagePart) and isinstance(part.source, str) and "://" not in part.source \
                and not part.source.startswith("data:"):
            path = (base / part.source).resolve()
            if not path.is_file():
                raise DatasetError(f"image {part.source} not found (looked at {path})")
            parts.append(ImagePart(str(path)))
        else:
            parts.append(part)
    return Message(message.role, parts)


def _reason(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON ({err.msg} at column {err.colno})"
    return str(err)
