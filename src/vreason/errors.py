"""Error types every layer raises and every surface turns into a clear message.

One base class, so a surface (CLI, server) can catch everything vreason means to say to its user with one
`except VReasonError` and print `str(err)`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class VReasonError(Exception):
    """A problem the user can act on. The message is one line: what went wrong and what to do."""


class MediaError(VReasonError):
    """An image (or video) input could not be turned into pixels the model accepts.

    The message names the input (shortened) and what is wrong with it.
    """

    def __init__(self, source: str, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"image {source}: {problem}")


class ModelLoadError(VReasonError):
    """A checkpoint could not be found, read or placed on the requested device."""


class InvalidRequestError(VReasonError, ValueError):
    """A request parameter is out of range or inconsistent; the message shows the value and the allowed range."""

    def __init__(self, message: str, param: str | None = None):
        self.param = param
        super().__init__(message)


class EngineOverloadedError(VReasonError):
    """The engine's waiting queue is full; the request was refused, not queued. Retry after a short wait."""

    def __init__(self, message: str, retry_after_s: float = 1.0):
        self.retry_after_s = retry_after_s
        super().__init__(message)


class RequestTimeoutError(VReasonError):
    """A request ran past its deadline (waiting plus generating) and was aborted."""
