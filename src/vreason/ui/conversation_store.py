"""Conversations of the web UI on disk, per user: listed, reopened, renamed, deleted, exported.

Layout under the data directory (default `~/.local/share/vreason/ui`, `vreason ui --data-dir DIR`):

    <user>/<conversation id>.json     one conversation: title, model, system prompt, turns (text only)
    .images/<sha256>.<ext>           every image once, named by the hash of its bytes, shared by all turns
                                     (a clip's contact sheet is one of them)
    .videos/<sha256>.<ext>           every video clip once, named the same way, so a reopened conversation
                                     still asks about it

A user is the logged-in name when the UI has a login, else "local"; a user's folder name is the name with every
character outside [A-Za-z0-9_-] percent-encoded, so no name reaches another folder (or `.images`). A
`UserConversations` only ever reads and writes its own folder, and a conversation id is checked before it
becomes a path. Writes go to a temporary file renamed over the old one, so a crash never leaves half a file.
Folders are created readable by this OS user only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vreason.errors import InvalidRequestError

DEFAULT_DATA_DIR = Path("~/.local/share/vreason/ui")
LOCAL_USER = "local"
IMAGES_DIR = ".images"
VIDEOS_DIR = ".videos"
FORMAT = "vreason-ui-conversation"
EXPORT_FORMAT = "vreason-chat"  # what `vreason chat /load` reads
TITLE_CHARS = 60
_ID = re.compile(r"^[0-9a-f]{32}$")
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".gif": "image/gif", ".bmp": "image/bmp"}
_VIDEO_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".webm": "video/webm", ".mkv": "video/x-matroska",
               ".mov": "video/quicktime", ".gif": "image/gif", ".avi": "video/x-msvideo", ".webp": "image/webp"}


@dataclass
class Clip:
    """A video a turn asked about: the clip in the store's video folder, the contact sheet of the frames the model
    saw (an image in the image folder) and that sheet's one-line caption."""

    name: str
    sheet: str
    caption: str = ""


@dataclass
class Turn:
    question: str
    images: list[str] = field(default_factory=list)  # names in the store's image folder
    answer: str = ""
    thinking: str = ""
    stats: str = ""  # "5 tokens · 0.08 s · 60.1 tokens/s", shown under the answer
    stopped: bool = False  # the user stopped it: `answer` is what had arrived
    # Last, so that Turn(question, images, answer) keeps its meaning. Asked about before the images, as Qwen
    # orders them.
    videos: list[Clip] = field(default_factory=list)


@dataclass
class Conversation:
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = ""
    model: str = ""
    system: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    turns: list[Turn] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Conversation:
        turns = [Turn(**{**turn, "videos": [Clip(**clip) for clip in turn.get("videos", [])]})
                 for turn in data.get("turns", [])]
        fields = {k: data[k] for k in ("id", "title", "model", "system", "created", "updated") if k in data}
        return cls(**fields, turns=turns)


def title_for(question: str) -> str:
    """A conversation's first title: its first question, on one line, shortened."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


def user_folder(user: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), user) or "%"


class ConversationStore:
    def __init__(self, root: Path | str = DEFAULT_DATA_DIR):
        self.root = Path(root).expanduser().resolve()
        self.images = self.root / IMAGES_DIR
        self.videos = self.root / VIDEOS_DIR

    def for_user(self, user: str | None) -> UserConversations:
        return UserConversations(self, self.root / user_folder(user or LOCAL_USER))

    def add_image(self, path: Path | str) -> str:
        """Keep the image at `path` (once per content); returns its name in the image folder."""
        source = Path(path)
        suffix = source.suffix.lower() if source.suffix.lower() in _MIME else ".png"
        return _keep(self.images, source.read_bytes(), suffix)

    def add_image_bytes(self, data: bytes, suffix: str = ".png") -> str:
        """Keep an image made here (a contact sheet) once per content; returns its name."""
        return _keep(self.images, data, suffix)

    def add_video(self, path: Path | str) -> str:
        """Keep the clip at `path` (once per content); returns its name in the video folder. The media step has
        already checked it is a video by its content; the suffix only helps other programs open the file."""
        source = Path(path)
        suffix = source.suffix.lower() if source.suffix.lower() in _VIDEO_MIME else ".video"
        return _keep(self.videos, source.read_bytes(), suffix)

    def image_path(self, name: str) -> Path:
        _check_name(name, "an image")
        return self.images / name

    def video_path(self, name: str) -> Path:
        _check_name(name, "a video")
        return self.videos / name

    def video_data_uri(self, name: str) -> str:
        path = self.video_path(name)
        mime = _VIDEO_MIME.get(path.suffix, "video/mp4")
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"

    def image_data_uri(self, name: str) -> str:
        path = self.image_path(name)
        return f"data:{_MIME.get(path.suffix, 'image/png')};base64,{base64.b64encode(path.read_bytes()).decode()}"


class UserConversations:
    """One user's conversations; nothing here can name a file outside the user's folder."""

    def __init__(self, store: ConversationStore, folder: Path):
        self.store = store
        self.folder = folder

    def list(self) -> list[Conversation]:
        """Newest first (by last change)."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            try:
                found.append(Conversation.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue  # a file someone else put there, or one being replaced: not a conversation to list
        return sorted(found, key=lambda c: c.updated, reverse=True)

    def get(self, conversation_id: str) -> Conversation:
        path = self._path(conversation_id)
        try:
            return Conversation.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise InvalidRequestError(f"no conversation {conversation_id}") from None

    def save(self, conversation: Conversation) -> None:
        conversation.updated = time.time()
        record = {"format": FORMAT, **asdict(conversation)}
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomic(self._path(conversation.id), json.dumps(record, ensure_ascii=False, indent=1).encode())

    def rename(self, conversation_id: str, title: str) -> Conversation:
        title = " ".join(title.split())
        if not title:
            raise InvalidRequestError("a conversation's name cannot be empty")
        conversation = self.get(conversation_id)
        conversation.title = title[:200]
        self.save(conversation)
        return conversation

    def delete(self, conversation_id: str) -> None:
        # Images stay: another conversation may show the same picture, and they are named by content only.
        self._path(conversation_id).unlink(missing_ok=True)

    def _path(self, conversation_id: str) -> Path:
        if not _ID.match(conversation_id or ""):
            raise InvalidRequestError(f"not a conversation id: {conversation_id!r}")
        return self.folder / f"{conversation_id}.json"


def to_markdown(conversation: Conversation) -> str:
    """A readable transcript; images are named by their file in the store."""
    lines = [f"# {conversation.title or 'Conversation'}", "", f"Model: `{conversation.model}`", ""]
    if conversation.system:
        lines += ["**System:** " + conversation.system, ""]
    for turn in conversation.turns:
        lines += ["## User", ""]
        lines += [f"[video: {clip.caption or clip.name}]({VIDEOS_DIR}/{clip.name})" for clip in turn.videos]
        lines += [f"![image]({IMAGES_DIR}/{name})" for name in turn.images]
        lines += [turn.question, "", "## Assistant", ""]
        if turn.thinking:
            lines += ["<details><summary>Thinking</summary>", "", turn.thinking, "", "</details>", ""]
        lines += [turn.answer + (" *(stopped)*" if turn.stopped else ""), ""]
        if turn.stats:
            lines += [f"*{turn.stats}*", ""]
    return "\n".join(lines)


def to_json(conversation: Conversation, store: ConversationStore) -> dict[str, Any]:
    """OpenAI-style messages with every clip and image inlined as a data URI: the format `vreason chat /load`
    reads."""
    messages: list[dict[str, Any]] = []
    if conversation.system:
        messages.append({"role": "system", "content": [{"type": "text", "text": conversation.system}]})
    for turn in conversation.turns:
        parts: list[dict[str, Any]] = [
            {"type": "video_url", "video_url": {"url": store.video_data_uri(clip.name)}} for clip in turn.videos
        ]
        parts += [{"type": "image_url", "image_url": {"url": store.image_data_uri(name)}} for name in turn.images]
        parts.append({"type": "text", "text": turn.question})
        messages.append({"role": "user", "content": parts})
        messages.append({"role": "assistant", "content": [{"type": "text", "text": turn.answer}]})
    return {"format": EXPORT_FORMAT, "version": 1, "model": conversation.model, "title": conversation.title,
            "messages": messages}


def _keep(folder: Path, data: bytes, suffix: str) -> str:
    name = hashlib.sha256(data).hexdigest() + suffix
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomic(target, data)
    return name


def _check_name(name: str, kind: str) -> None:
    if "/" in name or "\\" in name or name.startswith("."):
        raise InvalidRequestError(f"not {kind} name of this store: {name!r}")


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


__all__ = ["Clip", "Conversation", "ConversationStore", "Turn", "UserConversations", "title_for", "to_json",
           "to_markdown"]
