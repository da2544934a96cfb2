"""The one rule for reading local media files: whether a path may be read at all under a `MediaPolicy`.

Local files must be allowed (`allow_local_files`), resolve (symlinks followed) under `allowed_local_dir` when
one is set, be a non-empty regular file, and fit the caller's byte limit. Images and videos both ask here, so
a server's `--allowed-local-media-path` means the same for every kind of input.
"""

from __future__ import annotations

from pathlib import Path

from vreason.articles import with_article
from vreason.errors import MediaError
from vreason.media.policy import MediaPolicy


def checked_local_path(path: Path, policy: MediaPolicy, label: str, kind: str, max_bytes: int) -> Path:
    """The resolved path of a local `kind` file ("image", "video") that may be read; MediaError otherwise."""
    if not policy.allow_local_files:
        raise MediaError(label, "local files are not allowed here (the server needs --allowed-local-media-path)")
    try:
        resolved = path.expanduser().resolve(strict=True)
    except (FileNotFoundError, RuntimeError):
        raise MediaError(label, "no such file") from None
    except OSError as err:
        raise MediaError(label, f"cannot be read ({err.strerror})") from None
    if policy.allowed_local_dir is not None and not resolved.is_relative_to(policy.allowed_local_dir):
        raise MediaError(label, f"is outside the allowed media directory {policy.allowed_local_dir}")
    if resolved.is_dir():
        raise MediaError(label, f"is a directory, not {with_article(kind)} file")
    try:
        size = resolved.stat().st_size
    except PermissionError:
        raise MediaError(label, "permission denied") from None
    except OSError as err:
        raise MediaError(label, f"cannot be read ({err.strerror})") from None
    if size > max_bytes:
        limit = "limit" if kind == "image" else f"{kind} limit"
        raise MediaError(label, f"{size} bytes is over the {max_bytes}-byte {limit}")
    if size == 0:
        raise MediaError(label, "is empty (0 bytes)")
    return resolved
