"""A spinner on stderr while something slow happens (a model loading), saying what it is; stdout untouched.

Only when stderr is a terminal: piped or redirected, nothing is printed, so logs and scripts see no control
characters. Lines logged while the spinner turns are printed above it rather than through it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text


@contextmanager
def loading_status(message: str) -> Iterator[None]:
    """Show `message` with a spinner for the duration of the block (terminal only); gone afterwards."""
    if not sys.stderr.isatty():
        yield
        return
    console = Console(stderr=True, highlight=False)
    if console.is_dumb_terminal:
        yield
        return
    # stdout is the answer's channel: left alone (rich's console.status would route it into the display, on stderr).
    spinner = Live(Spinner("dots", Text(message, style="dim"), style="status.spinner"), console=console, transient=True,
                   refresh_per_second=12.5, redirect_stdout=False, redirect_stderr=True)
    with spinner:
        # rich routes sys.stderr through the live display while it is up; the vreason log handler holds the
        # real stream, so point it at the routed one for the duration (else a warning splits the spinner line).
        handlers = [h for h in logging.getLogger("vreason").handlers
                    if isinstance(h, logging.StreamHandler) and h.stream is sys.__stderr__]
        for handler in handlers:
            handler.setStream(sys.stderr)
        try:
            yield
        finally:
            for handler in handlers:
                handler.setStream(sys.__stderr__)  # type: ignore[arg-type]
