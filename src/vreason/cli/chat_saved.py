"""A chat's attached clips and its saved form (`vreason chat`'s /video, /save and /load).

`/save FILE` writes the conversation as JSON (OpenAI-style messages) and `/load FILE` restores one. Images are
inlined as PNG data URIs, so they do not depend on the original file. A clip read from a file or URL is saved
as that reference (an absolute path, or the URL) with its sampling options, not inlined: clips run to hundreds
of megabytes, and even their sampled frames as PNGs are tens of megabytes a minute, so inlining would make a
chat file too big to keep or read; `/load` samples the clip again under the same options (the same frames:
decoding is deterministic), and a clip that has moved is an error naming it. A clip that never had a path
(a data URI, bytes, a list of frames) is saved as its sampled frames (PNG data URIs) with their times, so it
loads exactly. The conversation itself lives in `api.Conversation`; this module only keeps what is attached
for the next question, and where each clip came from.

    VideoSources().attach(vr, source, options) -> VideoPart   (decoded once; remembers where it came from)
    video_options(["fps=2", "start=5"]) -> {"fps": 2.0, "start": 5.0}
    save_conversation(conversation, model, path, videos) / load_conversation(vr, path, videos) -> list[Message]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vreason.api import Conversation, VReason
from vreason.engine.backends.image_cache import image_data_uri
from vreason.engine.types import ImagePart, Message, TextPart, VideoPart
from vreason.errors import InvalidRequestError, VReasonError
from vreason.media import PreparedImage, PreparedVideo
from vreason.media.video_types import SAMPLING_KEYS, VideoSampling

SAVE_FORMAT = "vreason-chat"
SAVE_VERSION = 1


class VideoSources:
    """Where each attached clip came from (an absolute path or a URL), by the content hash of its decoded form,
    so /save can write the reference rather than the clip."""

    def __init__(self) -> None:
        self._by_hash: dict[str, str] = {}

    def attach(self, vr: VReason, source: str, options: dict[str, Any]) -> VideoPart:
        """The clip sampled and decoded once (bad input raises, naming it), remembered by content."""
        from vreason.media.video_input import looks_like_video

        reference = _reference(source)
        sampling = VideoSampling.from_dict(options)
        local = Path(reference) if "://" not in reference[:12] and reference[:5].lower() != "data:" else None
        if local is not None and local.is_file() and not looks_like_video(local):  # FFmpeg reads a PNG as 1 frame
            raise InvalidRequestError(f"video {source}: is a still image or has no video track (images: /image)")
        video = vr.prepare_video(VideoPart(reference, sampling))
        if not reference.lower().startswith("data:"):
            self._by_hash[video.content_hash] = reference
        return VideoPart(video, sampling)

    def reference(self, video: PreparedVideo) -> str | None:
        return self._by_hash.get(video.content_hash)


def _reference(source: str) -> str:
    """A path made absolute (the saved chat may be loaded from another folder); URLs and data URIs as given."""
    if "://" in source[:12] or source[:5].lower() == "data:":
        return source
    return str(Path(source).expanduser().resolve())


def video_options(words: list[str]) -> dict[str, Any]:
    """`fps=2 max_frames=64 start=5` as sampling options (numbers parsed; unknown keys refused by name)."""
    options: dict[str, Any] = {}
    for word in words:
        key, sep, value = word.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in SAMPLING_KEYS:
            raise InvalidRequestError(
                f"video option {word!r} must be KEY=VALUE with KEY one of {', '.join(SAMPLING_KEYS)}"
            )
        try:
            options[key] = float(value) if key in ("fps", "start", "end") else int(value)
        except ValueError:
            raise InvalidRequestError(f"video option {key} must be a number, got {value!r}") from None
    return options


def _video_json(part: VideoPart, sources: VideoSources) -> dict[str, Any]:
    video = part.source
    if not isinstance(video, PreparedVideo):  # not decoded (never the case for parts attached here)
        return {"type": "video", "video": video if isinstance(video, str) else str(video), **part.sampling.to_dict()}
    reference = sources.reference(video)
    if reference is not None:
        return {"type": "video", "video": reference, **part.sampling.to_dict()}
    from PIL import Image

    frames = [image_data_uri(Image.fromarray(frame)) for frame in video.frames]
    return {"type": "video", "video": frames, "timestamps": list(video.timestamps)}


def conversation_json(conversation: Conversation, model: str, videos: VideoSources | None = None) -> dict[str, Any]:
    """The conversation as OpenAI-style messages; every image inlined as a PNG data URI (round-trips exactly,
    and does not depend on the original file still being there), every clip by its path or URL and sampling
    options (or, without one, as its sampled frames and their times)."""
    videos = videos or VideoSources()
    messages = []
    for message in conversation.messages:
        parts: list[dict[str, Any]] = []
        for part in message.content:
            if isinstance(part, TextPart):
                parts.append({"type": "text", "text": part.text})
            elif isinstance(part, ImagePart):
                source = part.source
                url = image_data_uri(source.image) if isinstance(source, PreparedImage) else str(source)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            elif isinstance(part, VideoPart):
                parts.append(_video_json(part, videos))
        messages.append({"role": message.role, "content": parts})
    return {"format": SAVE_FORMAT, "version": SAVE_VERSION, "model": model, "messages": messages}


def save_conversation(conversation: Conversation, model: str, path: Path, videos: VideoSources | None = None) -> None:
    text = json.dumps(conversation_json(conversation, model, videos), indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def load_conversation(vr: VReason, path: Path, videos: VideoSources | None = None) -> list[Message]:
    """The messages saved in `path`, images and clips prepared (decoded and checked once); ValueError says what
    is wrong."""
    videos = videos or VideoSources()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no such file: {path}") from None
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a saved conversation (not JSON: {err})") from None
    raw = data.get("messages") if isinstance(data, dict) else data  # a bare list of messages is accepted too
    if not isinstance(raw, list):
        raise ValueError(f"{path} is not a saved conversation (no 'messages' list)")
    messages = []
    for index, item in enumerate(raw):
        try:
            message = Message.from_dict(item)
            parts = [
                ImagePart(vr.prepare_image(p.source)) if isinstance(p, ImagePart)
                else _load_video(vr, p, videos) if isinstance(p, VideoPart)
                else p
                for p in message.content
            ]
        except VReasonError as err:
            raise ValueError(f"{path}: message {index}: {err}") from None
        messages.append(Message(message.role, parts))
    return messages


def _load_video(vr: VReason, part: VideoPart, videos: VideoSources) -> VideoPart:
    if isinstance(part.source, str):
        return videos.attach(vr, part.source, part.sampling.to_dict())
    return VideoPart(vr.prepare_video(part), part.sampling)  # saved frames with their times
