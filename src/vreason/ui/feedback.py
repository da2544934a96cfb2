"""What the page says when something goes wrong or a request finishes: one readable line, never a traceback.

Every tab routes its errors through `error_message`, so a bad upload, an overloaded engine or a bug each read
the same way everywhere; the app keeps working after any of them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vreason.engine.types import Answer
from vreason.errors import (
    EngineOverloadedError,
    InvalidRequestError,
    MediaError,
    ModelLoadError,
    RequestTimeoutError,
    VReasonError,
)
from vreason.media.video_types import VideoError

logger = logging.getLogger("vreason.ui")


class UnreadableUpload(MediaError):
    """An upload that is neither an image nor a video (named as a file: the user may have meant either)."""


def error_message(err: BaseException) -> str:
    """The one-line text shown in the page for `err` (Markdown)."""
    if isinstance(err, MediaError):
        # Gradio stores uploads under a temporary folder; the user knows the file by its own name.
        kind = "Video" if isinstance(err, VideoError) else "File" if isinstance(err, UnreadableUpload) else "Image"
        return f"⚠️ **{kind} {_upload_name(err.source)}**: {err.problem}"
    if isinstance(err, EngineOverloadedError):
        return (f"⏳ **The model is busy** ({err}). Try again in {max(1, round(err.retry_after_s))} s; "
                "your conversation is kept.")
    if isinstance(err, RequestTimeoutError):
        return f"⏳ **The request took too long** ({err}). Try a shorter answer (fewer max new tokens) or retry."
    if isinstance(err, InvalidRequestError):
        return f"⚠️ **Invalid setting**: {err}"
    if isinstance(err, ModelLoadError):
        return f"⚠️ **Model problem**: {err}"
    if isinstance(err, VReasonError):
        return f"⚠️ {err}"
    logger.exception("unexpected error in the web UI")
    return f"⚠️ **Something went wrong** ({type(err).__name__}: {err}). The page still works; try again."


def answer_summary(answer: Answer) -> str:
    """Tokens and speed of a finished answer, for the status line under a result."""
    parts = [f"{answer.usage.completion_tokens} tokens", f"{answer.timings.total_s:.2f} s"]
    if answer.tokens_per_s:
        parts.append(f"{answer.tokens_per_s:.1f} tokens/s")
    if answer.finish_reason == "length":
        parts.append("cut off at max new tokens")
    return " · ".join(parts)


def _upload_name(source: str) -> str:
    # Media errors name the path gradio saved the upload under; its last part is the user's file name.
    if source.startswith("<") or "://" in source:
        return source
    return Path(source).name or source
