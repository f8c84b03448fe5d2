"""Deduplication: the ladder that decides which stored article, if any, an incoming text belongs to.

Rungs, in order (ARCHITECTURE.md): the canonical URL (``url_key``, also as a recorded alias); the
site's article id; the hash of the normalised text (any stored version); the SimHash near-duplicate,
looked up through ``simhash_index`` by band equality and confirmed by Hamming distance. Nothing
scans: every rung is an index probe. The fingerprints are computed here from the article alone;
``articles.py`` acts on the match.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, select

from service.config import DedupSettings
from service.model import Article
from service.store.schema import article_urls, article_versions, articles, simhash_index
from service.store.sql import insert_ignore_many
from service.text.simhash import band_keys, hamming, prepare, simhash, to_signed, to_unsigned


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
        version_hash=_sha(article.title.strip(), article.body_text.strip()),
        simhash=fp,
    )


def find_match(
    conn: Connection,
    *,
    key: str,
    site_id: str | None,
    fps: Fingerprints,
    settings: DedupSettings,
    by_url: bool = True,
) -> Match | None:
    """The first rung that matches, or None for a new article; ``by_url=False`` skips the URL rung."""
    if by_url and (m := _by_url(conn, key)):
        return m
    if site_id:
        row = conn.execute(select(articles.c.id).where(articles.c.site_id == site_id)).first()
        if row:
            return Match(int(row[0]), "site_id")
    row = conn.execute(
        select(article_versions.c.article_id)
        .where(article_versions.c.content_hash == fps.content_hash)
        .order_by(article_versions.c.article_id)
        .limit(1)
    ).first()
    if row:
        return Match(root_of(conn, int(row[0])), "content")
    if fps.simhash is not None:
        near = nearest(conn, fps.simhash, settings.simhash_max_distance)
        if near is not None:
            return Match(near[0], "near", near[1])
    return None


def _by_url(conn: Connection, key: str) -> Match | None:
    row = conn.execute(select(articles.c.id).where(articles.c.url_key == key)).first()
    if row:
        return Match(int(row[0]), "url")
    alias = conn.execute(
        select(article_urls.c.article_id, article_urls.c.reason).where(article_urls.c.url_key == key)
    ).first()
    return Match(int(alias[0]), "alias", alias_reason=alias[1]) if alias else None


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


def candidates(conn: Connection, fp: int) -> list[tuple[int, int]]:
    """(article_id, fingerprint) rows sharing at least one band with ``fp``: four key probes."""
    rows = conn.execute(
        select(simhash_index.c.article_id, simhash_index.c.fingerprint).where(
            simhash_index.c.key.in_(band_keys(fp))
        )
    ).all()
    return [(int(a), to_unsigned(int(f))) for a, f in rows]


def nearest(conn: Connection, fp: int, max_distance: int) -> tuple[int, int] | None:
    """(article_id, distance) of the closest indexed fingerprint within ``max_distance``, or None.

    Ties go to the lowest article id, so the answer does not depend on row order.
    """
    best: tuple[int, int] | None = None
    for article_id, other in candidates(conn, fp):
        d = hamming(fp, other)
        if d <= max_distance and (best is None or (d, article_id) < (best[1], best[0])):
            best = (article_id, d)
    return best


def index_fingerprint(conn: Connection, article_id: int, fp: int | None) -> None:
    """Add ``fp`` of an original article to the banded index (idempotent)."""
    if fp is None:
        return
    signed = to_signed(fp)
    insert_ignore_many(
        conn,
        simhash_index,
        [{"key": k, "fingerprint": signed, "article_id": article_id} for k in band_keys(fp)],
    )
