"""Where a memory store lives: a URL given, else `$VREASON_MEMORY_URL`, else one SQLite file in a data directory
(`--memory-dir`, else `$VREASON_MEMORY_DIR`, else `$XDG_DATA_HOME/vreason`, else `~/.local/share/vreason`).

PostgreSQL is named by URL (`postgresql+psycopg://user@/db?host=/run/postgresql`; a bare `postgresql://` gets the
psycopg 3 driver), for a deployment several processes or machines share. `connect(url)` makes the SQLAlchemy
engine the store uses, with SQLite's WAL and locking settings.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

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


def connect(url: str) -> Engine:
    """A SQLAlchemy engine for the store at `url`: PostgreSQL pooled and pinged; SQLite in WAL mode with a busy
    timeout and secure_delete, and writers that take the write lock at BEGIN (store.py's `_write`)."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=56)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60}, pool_size=8, max_overflow=56)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN handling off: _begin emits ours
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "busy_timeout=60000", "synchronous=NORMAL", "secure_delete=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        # a writer takes the write lock at BEGIN, so it waits (busy_timeout) instead of failing on upgrade
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine
