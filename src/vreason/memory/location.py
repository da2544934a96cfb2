"""Where a memory store lives: a URL given, else `$VREASON_MEMORY_URL`, else one SQLite file in a data directory
(`--memory-dir`, else `$VREASON_MEMORY_DIR`, else `$XDG_DATA_HOME/vreason`, else `~/.local/share/vreason`).

PostgreSQL is named by URL (`postgresql+psycopg://user@/db?host=/run/postgresql`; a bare `postgresql://` gets the
psycopg 3 driver), for a deployment several processes or machines share.
"""

from __future__ import annotations

import os
from pathlib import Path

from vreason.errors import InvalidRequestError

URL_ENV = "VREASON_MEMORY_URL"
DIR_ENV = "VREASON_MEMORY_DIR"
FILE_NAME = "memory.sqlite3"


def default_directory() -> Path:
    if os.environ.get(DIR_ENV):
        return Path(os.environ[DIR_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "vreason"


def store_url(url: str | None = None, directory: str | Path | None = None) -> str:
    """The SQLAlchemy URL of the store the arguments and environment name (a SQLite file's folder is created)."""
    if url and directory:
        raise InvalidRequestError("give a memory URL or a memory directory, not both", param="memory_dir")
    url = url or (None if directory else os.environ.get(URL_ENV))
    if url:
        if url.startswith(("postgresql://", "postgres://")):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        if not url.startswith(("sqlite:", "postgresql+psycopg:")):
            raise InvalidRequestError(f"memory URL {url.split('@')[-1][:60]!r}: sqlite:/// or postgresql:// only")
        return url
    folder = Path(directory).expanduser() if directory else default_directory()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InvalidRequestError(f"memory directory {folder}: {err.strerror or err}", param="memory_dir") from err
    return f"sqlite:///{(folder / FILE_NAME).resolve()}"
