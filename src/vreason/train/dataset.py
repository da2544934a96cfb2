"""Read fine-tuning data: JSONL, one conversation per line, in either of two forms.

Full form (Qwen / OpenAI style):
    {"messages": [{"role": "user", "content": [{"type": "image", "image": "img/1.png"},
                                               {"type": "text", "text": "What colour?"}]},
                  {"role": "assistant", "content": "red"}]}
Short form:
    {"image": "img/1.png", "question": "What colour?", "answer": "red"}   ("image" may be a list)
Video (the short form with a clip, and optionally how to sample it: `VideoSampling`'s keys, as `vreason eval`
rows spell them), or video parts in `messages` (`{"type": "video", "video": ..., "fps": ...}` or
`{"type": "video_url", "video_url": {"url": ..., "max_frames": ...}}`):
    {"video": "clips/1.mp4", "question": "Which way does it move?", "answer": "left", "fps": 2, "max_frames": 8}

Relative image and video paths (a list of frames' too) are relative to the JSONL file. A bad row (not JSON,
wrong shape, missing image or clip, an unknown or invalid sampling option) is a `DatasetError` naming the file
and line, unless `skip_bad` is set: then it is skipped and counted. Clips are decoded when batches are built
(collate.py), through the media step, as the engine decodes them.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from vreason.engine.types import ImagePart, Message, VideoPart
from vreason.errors import InvalidRequestError, VReasonError
from vreason.media.video_types import SAMPLING_KEYS


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
    base = path.resolve().parent
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
        user = Message.user(str(row["question"]), images)
        video = _short_form_video(row)
        if video is not None:  # Qwen's order, as `vr.ask` builds it: the video, the images, the question
            user = Message("user", [video, *user.content])
        messages = [user, Message.assistant(str(row["answer"]))]
    else:
        raise DatasetError('a row needs "messages", or "question" and "answer" (with "image" or "video")')
    if not any(m.role == "assistant" and m.text for m in messages):
        raise DatasetError("the conversation has no assistant answer to learn")
    return [_resolve_paths(m, base) for m in messages]


def _short_form_video(row: dict) -> VideoPart | None:
    """The short form's clip with its sampling options (checked now, so a typo fails before a model loads)."""
    options = {k: row[k] for k in SAMPLING_KEYS if k in row}
    source = row.get("video")
    if source is None:
        if options:
            raise DatasetError(f"{', '.join(options)} sample a video, but the row has no \"video\"")
        return None
    if not (isinstance(source, str) and source) and not (isinstance(source, list) and source):
        raise DatasetError(f'"video" must be a path, URL or data URI (or a list of frames), got {source!r:.80}')
    for key in row:
        near = difflib.get_close_matches(key, SAMPLING_KEYS, n=1, cutoff=0.8)
        if near and key not in SAMPLING_KEYS:
            raise DatasetError(f"unknown video option {key!r}; did you mean {near[0]!r}?")
    part = Message.from_dict({"role": "user", "content": [{"type": "video", "video": source, **options}]})
    return part.videos[0]


def _resolve_paths(message: Message, base: Path) -> Message:
    parts = []
    for part in message.content:
        if isinstance(part, ImagePart) and _is_local(part.source):
            parts.append(ImagePart(_local(part.source, base, "image")))
        elif isinstance(part, VideoPart) and _is_local(part.source):
            parts.append(VideoPart(_local(part.source, base, "video"), part.sampling))
        elif isinstance(part, VideoPart) and isinstance(part.source, list):  # a list of frames
            frames = [_local(f, base, "video frame") if _is_local(f) else f for f in part.source]
            parts.append(VideoPart(frames, part.sampling, part.timestamps))
        else:
            parts.append(part)
    return Message(message.role, parts)


def _is_local(source: object) -> bool:
    """A path (not a URL, data URI or base64 text, which the media step reads as they are)."""
    return isinstance(source, str) and len(source) < 4096 and "://" not in source and not source.startswith("data:")


def _local(source: str, base: Path, what: str) -> str:
    # One stat per row, not a realpath walk over every component: a demo-model dataset has ~100k rows, and
    # Path.resolve() made reading it take 25 s. Symlinks stay as they are (the media step follows them).
    path = os.path.abspath(os.path.join(base, os.path.expanduser(source)))
    if not os.path.isfile(path):
        raise DatasetError(f"{what} {source} not found (looked at {path})")
    return path


def _reason(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"not valid JSON ({err.msg} at column {err.colno})"
    return str(err)
