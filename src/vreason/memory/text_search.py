"""Full-text search over one user's items: SQLite FTS5 (bm25) or PostgreSQL text search (ts_rank), same contract.

A question is reduced to its words (letters and digits; common function words dropped) and matched with OR
(recall: any word counts, rank orders them) or AND (`all_words`, what "forget part #17" uses, so it deletes
only what mentions both). Scores are normalised so the best hit is 1.0.

SQLite ranks every row an OR query matches (bm25), ~1.7 us a row: a word in half of 100,000 memories ("part")
costs 85 ms. So an OR search first counts each word's rows in the user's namespace (stopping at `RANK_BUDGET` + 1,
a fraction of a millisecond) and keeps the rarest words whose rows together stay within `RANK_BUDGET`, and always
one word that matches anything (the rarest; all over the budget: the first); a word that matches nothing is left
out, and none matching means no search. A lone word in more rows than the budget returns its newest rows, all
scored 1.0 (bm25 of one word over thousands of rows barely tells them apart). Words are lost only when together
they match more than `RANK_BUDGET` of the user's rows, and those lost are the most common ones, which bm25 weighs
least. AND searches keep every word (they decide what a forget deletes). PostgreSQL's GIN index and ts_rank are
left as they are.
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
RANK_BUDGET = 1000  # rows an OR search over SQLite may rank (~2 ms)


def query_words(query: str) -> list[str]:
    words = [w for w in re.findall(r"[^\W_]+", query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def text_search(conn: Connection, user: str, query: str, limit: int, all_words: bool) -> list[tuple[int, float]]:
    """[(row id, score in (0, 1])], best first."""
    words = query_words(query)
    if not words:
        return []
    if conn.dialect.name == "sqlite":
        newest_first = False
        if not all_words:
            words, over = _within_budget(conn, user, words)
            if not words:
                return []
            newest_first = over  # one word, in more rows than the budget: bm25 would barely tell them apart
        words_expression = (" AND " if all_words else " OR ").join(f'"{w}"' for w in words)
        # the namespace is one indexed word (schema.namespace_token): the index alone keeps to one user
        expression = f'ns_token : "{namespace_token(user)}" AND text : ({words_expression})'
        if newest_first:
            newest = text("SELECT rowid AS id FROM items_fts WHERE items_fts MATCH :q ORDER BY rowid DESC LIMIT :n")
            return [(row_id, 1.0) for row_id in conn.execute(newest, {"q": expression, "n": limit}).scalars()]
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


def _within_budget(conn: Connection, user: str, words: list[str]) -> tuple[list[str], bool]:
    """The rarest of `words` (in this user's rows) whose matches together stay within RANK_BUDGET, at least one
    that matches; and whether they match more rows than that (then it is one word)."""
    # counts stop at RANK_BUDGET + 1, so words over the budget tie: the stable sort keeps the question's order
    # each word is counted as the search matches it (stemmed, within the namespace), up to RANK_BUDGET + 1 rows,
    # all in one statement (a statement's round trip through SQLAlchemy costs more than a rare word's count)
    token = namespace_token(user)
    counts_sql = ", ".join(
        f"(SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH :q{i} LIMIT :n))"
        for i in range(len(words))
    )
    params = {f"q{i}": f'ns_token : "{token}" AND text : "{word}"' for i, word in enumerate(words)}
    row = conn.execute(text(f"SELECT {counts_sql}"), {**params, "n": RANK_BUDGET + 1}).one()
    counts = [(count, word) for count, word in zip(row, words, strict=True) if count]
    counts.sort(key=lambda c: c[0])
    kept, total = [], 0
    for count, word in counts:
        if kept and total + count > RANK_BUDGET:
            break
        kept.append(word)
        total += count
    return kept, total > RANK_BUDGET
