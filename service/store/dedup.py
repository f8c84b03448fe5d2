"""Deduplication: the ladder that decides which stored article, if any, an incoming text belongs to.

Rungs, in order (ARCHITECTURE.md): the canonical URL (``url_key``, also as a recorded alias); the
site's article id; the hash of the normalised text (any stored version); the SimHash near-duplicate,
looked up through ``simhash_index`` by equal pairs of blocks and confirmed by Hamming distance. Nothing
scans: every rung is an index probe. The fingerprints are computed here from the article alone;
``articles.py`` acts on the match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, bindparam, literal, select, union_all

from service.model import Article
from service.settings import DedupSettings
from service.store.schema import article_urls, article_versions, articles, simhash_index
from service.store.sql import insert_ignore_many
from service.text.simhash import PAIRS, index_keys, prepare, simhash, to_signed, to_unsigned


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """``content_hash``: of the normalised text; ``version_hash``: of title and body (what makes a
    new version); ``simhash``: None when the text is too short to be compared by similarity."""

    content_hash: str
    version_hash: str
    simhash: int | None


@dataclass(frozen=True, slots=True)
class Match:
    """A stored article the incoming one belongs to, and the rung that said so."""

    article_id: int
    reason: str  # "url" | "alias" | "site_id" | "content" | "near"
    distance: int | None = None
    #: for an "alias" match: the rung that recorded the alias
    alias_reason: str | None = None
    #: for a "content" match: the row that holds the text (``article_id`` is its group's original)
    holder: int | None = None


def _sha(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")  # a separator, so ("ab", "c") and ("a", "bc") differ
    return h.hexdigest()


def fingerprints(article: Article, settings: DedupSettings) -> Fingerprints:
    """The three fingerprints of ``article`` (falls back to ``body_text`` when not normalised)."""
    text = prepare(article.normalized_text or article.body_text)
    fp = simhash(text, settings.shingle_size) if len(text) >= settings.min_chars else None
    return Fingerprints(
        content_hash=_sha(text),
        version_hash=version_hash(article),
        simhash=fp,
    )


def version_hash(article: Article) -> str:
    """What makes a new version: the hash of title and body (``Fingerprints.version_hash``)."""
    return _sha(article.title.strip(), article.body_text.strip())


def find_match(
    conn: Connection,
    *,
    key: str,
    site_id: str | None,
    fps: Fingerprints,
    settings: DedupSettings,
    by_url: bool = True,
) -> Match | None:
    """The first rung that matches, or None for a new article; ``by_url=False`` skips the URL rung.

    The exact rungs are one statement (four index probes), the near rung one more.
    """
    params = {"key": key, "site_id": site_id, "content_hash": fps.content_hash}
    rows = [r for r in conn.execute(_EXACT_RUNGS, params) if by_url or r.rung > 2]
    if rows:
        rung, article_id, reason = min(rows, key=lambda r: (r.rung, r.article_id))
        if rung == 1:
            return Match(int(article_id), "url")
        if rung == 2:
            return Match(int(article_id), "alias", alias_reason=reason)
        if rung == 3:
            return Match(int(article_id), "site_id")
        return Match(root_of(conn, int(article_id)), "content", holder=int(article_id))
    if fps.simhash is not None:
        near = nearest(conn, fps.simhash, settings.simhash_max_distance)
        if near is not None:
            return Match(near[0], "near", near[1])
    return None


_MASK64 = (1 << 64) - 1


def _rung(n: int, article_id: Any, reason: Any, condition: Any) -> Select[Any]:
    return select(literal(n).label("rung"), article_id.label("article_id"), reason.label("reason")).where(
        condition
    )


# rung 1 the article's own URL, 2 a recorded alias, 3 the site id (NULL matches nothing), 4 a
# version with the same normalised text; built once, so SQLAlchemy reuses the compiled statement
_EXACT_RUNGS = union_all(
    _rung(1, articles.c.id, literal("url"), articles.c.url_key == bindparam("key")),
    _rung(2, article_urls.c.article_id, article_urls.c.reason, article_urls.c.url_key == bindparam("key")),
    _rung(3, articles.c.id, literal("site_id"), articles.c.site_id == bindparam("site_id")),
    _rung(
        4,
        article_versions.c.article_id,
        literal("content"),
        article_versions.c.content_hash == bindparam("content_hash"),
    ),
)


def has_content(conn: Connection, article_id: int, content_hash: str) -> bool:
    """Whether some version of the article has this normalised text."""
    row = conn.execute(
        select(article_versions.c.id).where(
            article_versions.c.article_id == article_id, article_versions.c.content_hash == content_hash
        )
    ).first()
    return row is not None


def root_of(conn: Connection, article_id: int) -> int:
    """The original of a near-duplicate row (itself when it is an original)."""
    row = conn.execute(select(articles.c.duplicate_of).where(articles.c.id == article_id)).first()
    return int(row[0]) if row and row[0] is not None else article_id


# The hot path of near-duplicate search runs on the driver's own cursor, inside the caller's
# transaction: SQLAlchemy's per-statement and per-row overhead was most of the time (80 µs vs 25 µs).
# Ten probes of the primary key, which also holds the fingerprint and article id, so no table row
# is read; each probe returns about N / 2**25 unrelated rows (0.03 at 1M fingerprints).
_CANDIDATES_SQL = "SELECT article_id, fingerprint FROM simhash_index WHERE key IN ({})"
_CANDIDATES = {
    dialect: _CANDIDATES_SQL.format(", ".join([mark] * len(PAIRS)))
    for dialect, mark in (("sqlite", "?"), ("postgresql", "%s"))
}


def candidates(conn: Connection, fp: int) -> list[tuple[int, int]]:
    """(article_id, fingerprint) rows sharing an index key with ``fp`` (fingerprints unsigned)."""
    return [(int(a), to_unsigned(int(f))) for a, f in _candidate_rows(conn, fp)]


def _candidate_rows(conn: Connection, fp: int) -> list[tuple[int, int]]:
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cur.execute(_CANDIDATES[conn.dialect.name], index_keys(fp))
        return list(cur.fetchall())
    finally:
        cur.close()


def nearest(conn: Connection, fp: int, max_distance: int) -> tuple[int, int] | None:
    """(article_id, distance) of the closest indexed fingerprint within ``max_distance``, or None.

    Ties go to the lowest article id, so the answer does not depend on row order.
    """
    best: tuple[int, int] | None = None
    for article_id, other in _candidate_rows(conn, fp):
        d = ((fp ^ other) & _MASK64).bit_count()  # signed BIGINT or not: the low 64 bits are the same
        if d <= max_distance and (best is None or (d, article_id) < (best[1], best[0])):
            best = (article_id, d)
    return best


def index_fingerprint(conn: Connection, article_id: int, fp: int | None) -> None:
    """Add ``fp`` of an original article to the near-duplicate index (idempotent)."""
    if fp is None:
        return
    signed = to_signed(fp)
    insert_ignore_many(
        conn,
        simhash_index,
        [{"key": k, "fingerprint": signed, "article_id": article_id} for k in index_keys(fp)],
    )
