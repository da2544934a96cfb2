"""Full-text search over one user's items: SQLite FTS5 (bm25) or PostgreSQL text search (ts_rank), same contract.

A question is reduced to its words (letters and digits; common function words dropped) and matched with OR
(recall: any word counts, rank orders them) or AND (`all_words`, what "forget part #17" uses, so it deletes
only what mentions both). Scores are normalised so the best hit is 1.0.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import Connection

from vreason.memory.schema import namespace_token

_STOPWORDS = (
    "a an the is are was were be been of in on at to for with and or what which who whom whose when where why how "
    "this that these those it its i me my you your we our they their he she his her do does did there here "
    "about please tell remember forget any some"
)
STOPWORDS = frozenset(_STOPWORDS.split())
MAX_WORDS = 16


def query_words(query: str) -> list[str]:
    words = [w for w in re.findall(r"[^\W_]+", query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def text_search(conn: Connection, user: str, query: str, limit: int, all_words: bool) -> list[tuple[int, float]]:
    """[(row id, score in (0, 1])], best first."""
    words = query_words(query)
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        words_expression = (" AND " if all_words else " OR ").join(f'"{w}"' for w in words)
        # the namespace is one indexed word (schema.namespace_token): the index alone keeps to one user
        expression = f'ns_token : "{namespace_token(user)}" AND text : ({words_expression})'
        rows = conn.execute(
            text(
                "SELECT rowid AS id, bm25(items_fts, 1.0, 0.0) AS rank FROM items_fts WHERE items_fts MATCH :q "
                "ORDER BY rank LIMIT :n"
            ),
            {"q": expression, "n": limit},
        ).all()
        # bm25 is negative, more negative is better
        best = min((r.rank for r in rows), default=-1.0) or -1.0
        return [(r.id, max(r.rank / best, 1e-3)) for r in rows]
    expression = (" " if all_words else " or ").join(words)
    rows = conn.execute(
        text(
            "SELECT id, ts_rank(tsv, q) AS rank FROM items, websearch_to_tsquery('english', :q) AS q "
            "WHERE namespace = :ns AND tsv @@ q ORDER BY rank DESC LIMIT :n"
        ),
        {"q": expression, "ns": user, "n": limit},
    ).all()
    best = max((r.rank for r in rows), default=1.0) or 1.0
    return [(r.id, max(r.rank / best, 1e-3)) for r in rows]
