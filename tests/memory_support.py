"""Fixtures for the memory tests (imported by the memory-core, memory-surfaces and memory-eval tests):

- `memory_dir`: an empty folder set as $VREASON_MEMORY_DIR (and $VREASON_MEMORY_URL cleared), so nothing
  touches ~/.local/share.
- `postgres_server`: a throwaway PostgreSQL cluster for the test session: Debian's initdb and pg_ctl in a temp
  folder, listening only on a Unix socket in that folder (its port number picked free), fsync off; stopped and
  removed at the end. As root (CI) it runs as the `postgres` system user, since PostgreSQL refuses root.
  Skips when PostgreSQL is not installed (`make test` installs it).
- `postgres_url`: a fresh database on that server per test (SQLAlchemy URL, psycopg 3).
- `memory_store`: a `MemoryStore` parametrised over "sqlite" and "postgresql", the same tests for both; one
  real MiniLM embedder shared by all (`embedder`).

    from tests.memory_support import embedder, memory_dir, memory_store, postgres_server, postgres_url  # noqa: F401
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def memory_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "memory"
    monkeypatch.setenv("VREASON_MEMORY_DIR", str(folder))
    monkeypatch.delenv("VREASON_MEMORY_URL", raising=False)
    monkeypatch.delenv("VREASON_USER", raising=False)
    return folder


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="vreason-pg-"))  # not pytest's tmp: the server user must enter it
        self.data = self.root / "data"
        self.port = free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> None:
        result = subprocess.run([*self.as_user, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed: {result.stderr or result.stdout}\n{tail}")

    def start(self) -> None:
        self.run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "vreason",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = f"-p {self.port} -k {self.root} -c listen_addresses='' -c fsync=off -c full_page_writes=off"
        self.run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        try:
            self.run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://vreason@/{database}?host={self.root}&port={self.port}"

    def create_database(self) -> str:
        import psycopg

        name = f"memory_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(
            host=str(self.root), port=self.port, user="vreason", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (make test installs Debian's postgresql)")
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    return postgres_server.create_database()


@pytest.fixture(scope="session")
def embedder():
    from vreason.memory.embedding import MiniLMEmbedder

    return MiniLMEmbedder.shared()


@pytest.fixture(params=["sqlite", "postgresql"])
def memory_store(request, tmp_path, embedder):
    from vreason.memory.store import MemoryStore

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'memory.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = MemoryStore(url, embedder=embedder)
    try:
        yield store
    finally:
        store.close()
