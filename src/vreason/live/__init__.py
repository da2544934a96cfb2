"""Live video: watch a source, keep a rolling window of its last seconds, answer questions about it and
raise events when a condition turns true. See watcher.py for the shape of it; webhook.py delivers events to a
URL, source_policy.py says which sources a media policy lets a server or the web UI open."""

from vreason.live.sources import (
    FileSource,
    FolderSource,
    FrameSource,
    GrowingFileSource,
    PushSource,
    StreamSource,
    open_source,
)
from vreason.live.triggers import Trigger, parse_yes, trigger_question
from vreason.live.types import LiveFrame, SourceError, WatchAnswer, WatchEvent, WatchStats, WindowInfo
from vreason.live.watcher import Watcher, engine_asker
from vreason.live.webhook import Webhook
from vreason.live.window import RollingWindow

__all__ = [
    "FileSource",
    "FolderSource",
    "FrameSource",
    "GrowingFileSource",
    "LiveFrame",
    "PushSource",
    "RollingWindow",
    "SourceError",
    "StreamSource",
    "Trigger",
    "WatchAnswer",
    "WatchEvent",
    "WatchStats",
    "Watcher",
    "Webhook",
    "WindowInfo",
    "engine_asker",
    "open_source",
    "parse_yes",
    "trigger_question",
]
