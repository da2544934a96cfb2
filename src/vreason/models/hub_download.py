"""Downloading a hub checkpoint with one progress display per download: a bar (size, speed, time left) on a
terminal, a plain line every few seconds when stderr is a pipe or a log file.

huggingface_hub's `snapshot_download` does the downloading (resume, parallel files, the cache layout); this
module chooses which files (safetensors weights, configs, tokenizer and chat template; never pickled
weights) and what the user sees. The CLI turns Hugging Face's own bars off (HF_HUB_DISABLE_PROGRESS_BARS, so
that loading a model prints nothing), and `snapshot_download` would show three of them (files, bytes
received, bytes written); of those this shows exactly one, the bytes received, through a tqdm class of its own.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

from vreason.errors import ModelLoadError

# What loading a Qwen3-VL checkpoint reads. Weights only as safetensors: pickled `.bin`/`.pt` files are never
# fetched, let alone loaded.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.tiktoken", "*.model", "*.md"]
# The bar snapshot_download feeds with bytes as they arrive (huggingface_hub >= 1.x names it so).
_SHOWN_BAR = "Downloading bytes"
PLAIN_LINE_EVERY_S = 5.0


def download_checkpoint(hub_id: str, stream: TextIO | None = None) -> str:
    """Download `hub_id` into the Hugging Face cache (what is already there is kept) and return its snapshot
    directory. Progress goes to `stream` (default stderr). Raises ModelLoadError with the hub's answer in one
    line when the hub refuses or the transfer fails."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    out = stream or sys.stderr
    bars = progress_class(hub_id, out)
    failed = f"could not download model {hub_id} from the Hugging Face hub"
    try:
        return snapshot_download(hub_id, allow_patterns=ALLOW_PATTERNS, tqdm_class=bars)
    except GatedRepoError:
        raise ModelLoadError(
            f"{failed}: it is gated; accept its terms on the hub and log in (`hf auth login`)"
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"{failed}: {hub_id} is not a valid model identifier on the hub, or it is private "
            "(log in with `hf auth login`); `vreason models` lists the known names"
        ) from None
    except (OSError, ValueError) as err:  # HTTP errors and broken transfers are OSErrors in huggingface_hub
        raise ModelLoadError(f"{failed}: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    finally:
        for bar in list(bars.opened):  # snapshot_download leaves its bars open; the last line is written on close
            bar.close()


def progress_class(label: str, stream: TextIO) -> type:
    """A tqdm class for `snapshot_download`: the bytes bar drawn on `stream` (or as plain lines when it is not a
    terminal), every other bar silent."""
    interactive = bool(getattr(stream, "isatty", lambda: False)())

    class DownloadProgress(tqdm):
        opened: list[tqdm] = []

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            shown = str(kwargs.get("desc", "")).startswith(_SHOWN_BAR)
            kwargs.pop("name", None)
            kwargs.pop("bar_format", None)  # theirs names xet internals; tqdm's default shows size, rate, ETA
            if shown:
                kwargs["desc"] = f"downloading {label}"
            self._plain = shown and not interactive
            self._last_line = time.monotonic()  # the first line after PLAIN_LINE_EVERY_S: totals grow at first
            super().__init__(
                *args,
                **kwargs,
                file=stream,
                disable=not shown,
                dynamic_ncols=interactive,
                # A pipe gets the lines below; tqdm's own refreshes would fill a log with carriage returns.
                mininterval=0.5 if interactive else float("inf"),
            )
            DownloadProgress.opened.append(self)

        def display(self, *args: Any, **kwargs: Any) -> None:
            if not self._plain:  # a pipe gets only the lines of _write_line
                super().display(*args, **kwargs)

        def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
            pass  # the label stays the model's name ("Download complete" would hide which download it was)

        def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
            pass

        def update(self, n: float | None = 1) -> bool | None:
            shown = super().update(n)
            if self._plain and time.monotonic() - self._last_line >= PLAIN_LINE_EVERY_S:
                self._write_line()
            return shown

        def close(self) -> None:
            if self._plain and not getattr(self, "_closed_line", False):
                self._closed_line = True
                self._write_line(done=True)
                self.disable = True  # tqdm's own close would add an empty line (or a carriage return)
            super().close()

        def _write_line(self, done: bool = False) -> None:
            self._last_line = time.monotonic()
            stream.write(plain_line(label, self.n, self.total, self.format_dict.get("elapsed", 0.0), done) + "\n")
            stream.flush()

    return DownloadProgress


def plain_line(label: str, done_bytes: float, total_bytes: float | None, elapsed_s: float, done: bool = False) -> str:
    """One progress line for a log: 'downloading ID: 1.2 GB of 17.0 GB (7%), 85.0 MB/s, about 3 min left'."""
    rate = done_bytes / elapsed_s if elapsed_s > 0 else 0.0
    if done:
        return f"downloaded {label}: {_size(done_bytes)} in {_duration(elapsed_s)}"
    line = f"downloading {label}: {_size(done_bytes)}"
    if total_bytes:
        line += f" of {_size(total_bytes)} ({100 * done_bytes / total_bytes:.0f}%)"
    line += f", {_size(rate)}/s"
    if total_bytes and rate > 0:
        line += f", about {_duration((total_bytes - done_bytes) / rate)} left"
    return line


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
