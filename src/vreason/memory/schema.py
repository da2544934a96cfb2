"""The memory schema (SQLAlchemy Core) and its versioned migrations, the same on SQLite and PostgreSQL.

`schema_version` holds one row: the number of the last migration applied. `migrate` applies the missing ones
in order, in one transaction, under a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock),
so two processes opening a new store at once do not both create it. A store newer than this code is refused.

Tables: `items` (one row per memory, with its namespace, session, time, source, text, facts as JSON, the
MiniLM embedding as float32 bytes), `images` (one row per picture per namespace, by SHA-256: the original,
a thumbnail, a 64-bit perceptual hash, and where a local model stored it, the checkpoint's pooled vision
features with the checkpoint's name). Full text: an FTS5 table kept by triggers on SQLite, a generated
`tsvector` column with a GIN index on PostgreSQL (both stem English words: Porter / the `english` config).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)
from sqlalchemy.engine import Connection

from vreason.errors import VReasonError

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

items = Table(
    "items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("namespace", String(128), nullable=False),
    Column("session", String(128), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("created_at", Float, nullable=False),  # unix seconds, UTC
    Column("image_sha256", String(64)),
    Column("facts", Text, nullable=False, default="{}"),  # JSON
    Column("embedding", LargeBinary),  # float32, L2-normalised
    Column("bytes", Integer, nullable=False, default=0),
    Column("ns_token", String(24)),  # migration 3: namespace_token(namespace)
    Index("items_namespace_time", "namespace", "created_at"),
    Index("items_namespace_image", "namespace", "image_sha256"),
    sqlite_autoincrement=True,  # ids are never reused: a forgotten m42 stays forgotten
)

images = Table(
    "images",
    metadata,
    Column("namespace", String(128), primary_key=True),
    Column("sha256", String(64), primary_key=True),
    Column("phash", String(16), nullable=False),  # 64-bit perceptual hash, hex
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("mime", String(32), nullable=False),
    Column("original", LargeBinary, nullable=False),
    Column("thumbnail", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
    # migration 4: the checkpoint's pooled vision features (float32, L2-normalised) and which checkpoint made them;
    # NULL for pictures stored without a local model (recall then finds them by perceptual hash only)
    Column("vision", LargeBinary),
    Column("vision_model", String(256)),
)


def _create_tables(conn: Connection) -> None:
    metadata.create_all(conn, tables=[items, images])


def _full_text(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items', content_rowid='id', "
            "tokenize='porter unicode61 remove_diacritics 2')"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
            "INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
            "INSERT INTO items_fts(items_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN "
            "INSERT INTO items_fts(items_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text); END"
        )
        conn.exec_driver_sql("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")
    else:
        conn.exec_driver_sql(
            "ALTER TABLE items ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED"
        )
        conn.exec_driver_sql("CREATE INDEX items_tsv ON items USING GIN (tsv)")


def namespace_token(user: str) -> str:
    """One word that stands for a namespace in the SQLite full-text index (a user name like "ana@x.org" would be
    several words there): the index itself then keeps a search within one user, without a join per match."""
    return "u" + hashlib.sha256(user.encode()).hexdigest()[:20]


def _namespace_in_full_text(conn: Connection) -> None:
    if "ns_token" not in {c["name"] for c in inspect(conn).get_columns("items")}:
        conn.exec_driver_sql("ALTER TABLE items ADD COLUMN ns_token VARCHAR(24)")
    for (user,) in conn.execute(text("SELECT DISTINCT namespace FROM items")).all():
        update = text("UPDATE items SET ns_token = :t WHERE namespace = :u")
        conn.execute(update, {"t": namespace_token(user), "u": user})
    if conn.dialect.name != "sqlite":
        return  # PostgreSQL filters by the namespace column beside the GIN index; the column is kept for parity
    for trigger in ("items_fts_insert", "items_fts_delete", "items_fts_update"):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    conn.exec_driver_sql("DROP TABLE IF EXISTS items_fts")
    conn.exec_driver_sql(
        "CREATE VIRTUAL TABLE items_fts USING fts5(text, ns_token, content='items', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN "
        "INSERT INTO items_fts(rowid, text, ns_token) VALUES (new.id, new.text, new.ns_token); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN "
        "INSERT INTO items_fts(items_fts, rowid, text, ns_token) VALUES ('delete', old.id, old.text, old.ns_token); END"
    )
    conn.exec_driver_sql(
        "CREATE TRIGGER items_fts_update AFTER UPDATE OF text ON items BEGIN "
        "INSERT INTO items_fts(items_fts, rowid, text, ns_token) VALUES ('delete', old.id, old.text, old.ns_token); "
        "INSERT INTO items_fts(rowid, text, ns_token) VALUES (new.id, new.text, new.ns_token); END"
    )
    conn.exec_driver_sql("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")


def _vision_features(conn: Connection) -> None:
    have = {c["name"] for c in inspect(conn).get_columns("images")}
    if "vision" not in have:
        conn.exec_driver_sql(
            f"ALTER TABLE images ADD COLUMN vision {'BLOB' if conn.dialect.name == 'sqlite' else 'BYTEA'}"
        )
    if "vision_model" not in have:
        conn.exec_driver_sql("ALTER TABLE images ADD COLUMN vision_model VARCHAR(256)")


# Ordered; a migration's number is its place in this list (1-based). Append only: never edit a shipped one.
MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("items and images tables", _create_tables),
    ("full-text index over item text", _full_text),
    ("the namespace as one word in the SQLite full-text index", _namespace_in_full_text),
    ("pictures' pooled vision features, for similar-picture recall", _vision_features),
]
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    if not conn.dialect.has_table(conn, "schema_version"):
        return 0
    return conn.execute(text("SELECT max(version) FROM schema_version")).scalar() or 0


def migrate(engine) -> int:
    """Bring the store up to SCHEMA_VERSION; returns the version it had before."""
    with engine.connect() as conn:
        if current_version(conn) == SCHEMA_VERSION:
            return SCHEMA_VERSION
    with engine.connect().execution_options(immediate=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(2323)")
        metadata.create_all(conn, tables=[schema_version])
        before = current_version(conn)
        if before > SCHEMA_VERSION:
            raise VReasonError(
                f"the memory store has schema version {before}, newer than this vreason's {SCHEMA_VERSION}: "
                "upgrade vreason"
            )
        for number, (_, step) in enumerate(MIGRATIONS[before:], start=before + 1):
            step(conn)
            conn.execute(schema_version.delete())
            conn.execute(schema_version.insert().values(version=number))
        return before
