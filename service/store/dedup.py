"""Deduplication: the ladder that decides which stored article, if any, an incoming text belongs to.

Rungs, in order (docs/architecture.md): the canonical URL (``url_key``, also as a recorded alias); the
site's article id; the hash of the normalised text (any stored version); the SimHash near-duplicate,
looked up through ``simhash_index`` by equal pairs of blocks and confirmed by Hamming distance. Nothing
scans: every rung is an index probe, and all of them are one statement, run through the caller's
connection (its transaction and the store's retry). The fingerprints are computed here from the article alone;
``articles.py`` acts on the match.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Connection, Select, bindparam, cast, literal, null, select, union_all

from service.model import Article
from service.settings import DedupSettings
from service.store.schema import article_urls, article_versions, articles, simhash_index
from service.store.sql import insert_ignore_many
from service.text.simhash import PAIRS, index_keys, prepare, simhash_prepared, to_signed, to_unsigned


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
    fp = simhash_prepared(text, settings.shingle_size) if len(text) >= settings.min_chars else None
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

    One statement: the four exact rungs and the near rung's candidates (fourteen index probes).
    """
    params: dict[str, Any] = {"key": key, "site_id": site_id, "content_hash": fps.content_hash}
    # no fingerprint: NULL keys, which match nothing
    keys: Sequence[int | None] = index_keys(fps.simhash) if fps.simhash is not None else [None] * len(PAIRS)
    params.update(zip(_KEY_PARAMS, keys, strict=True))
    rows = conn.execute(_RUNGS, params).all()  # (rung, article_id, reason, fingerprint)
    exact = [r for r in rows if r[0] < _NEAR and (by_url or r[0] > 2)]
    if exact:
        rung, article_id, reason, _ = min(exact, key=lambda r: (r[0], r[1]))
        if rung == 1:
            return Match(int(article_id), "url")
        if rung == 2:
            return Match(int(article_id), "alias", alias_reason=reason)
        if rung == 3:
            return Match(int(article_id), "site_id")
        return Match(root_of(conn, int(article_id)), "content", holder=int(article_id))
    if fps.simhash is not None:
        found = [(int(r[1]), int(r[3])) for r in rows if r[0] == _NEAR]
        near = _nearest(found, fps.simhash, settings.simhash_max_distance)
        if near is not None:
            return Match(near[0], "near", near[1])
    return None


_MASK64 = (1 << 64) - 1
#: the rung of the near-duplicate candidates in ``_RUNGS``
_NEAR = 5
_KEY_PARAMS = tuple(f"k{i}" for i in range(len(PAIRS)))


def _rung(n: int, article_id: Any, reason: Any, condition: Any, fingerprint: Any = None) -> Select[Any]:
    fp = cast(null(), BigInteger) if fingerprint is None else fingerprint
    return select(
        literal(n).label("rung"),
        article_id.label("article_id"),
        reason.label("reason"),
        fp.label("fingerprint"),
    ).where(condition)


# rung 1 the article's own URL, 2 a recorded alias, 3 the site id (NULL matches nothing), 4 a
# version with the same normalised text, 5 the near-duplicate candidates: the rows of
# ``simhash_index`` sharing a key with the fingerprint (ten probes of its primary key, which also
# holds the fingerprint and article id, so no table row is read; each returns about N / 2**25
# unrelated rows, 0.03 at 1M fingerprints). Built once (SQLAlchemy compiles it once per engine).
_RUNGS = union_all(
    _rung(1, articles.c.id, literal("url"), articles.c.url_key == bindparam("key")),
    _rung(2, article_urls.c.article_id, article_urls.c.reason, article_urls.c.url_key == bindparam("key")),
    _rung(3, articles.c.id, literal("site_id"), articles.c.site_id == bindparam("site_id")),
    _rung(
        4,
        article_versions.c.article_id,
        literal("content"),
        article_versions.c.content_hash == bindparam("content_hash"),
    ),
    _rung(
        _NEAR,
        simhash_index.c.article_id,
        literal("near"),
        simhash_index.c.key.in_([bindparam(k, type_=BigInteger) for k in _KEY_PARAMS]),
        simhash_index.c.fingerprint,
    ),
)


def has_content(conn: Connection, article_id: int, content_hash: str) -> bool:
    """Whether some version of the article has this normalised text."""
    return conn.execute(_HAS_CONTENT, {"_id": article_id, "_hash": content_hash}).first() is not None


_HAS_CONTENT = select(article_versions.c.id).where(
    article_versions.c.article_id == bindparam("_id"),
    article_versions.c.content_hash == bindparam("_hash"),
)


def root_of(conn: Connection, article_id: int) -> int:
    """The original of a near-duplicate row (itself when it is an original)."""
    root = conn.execute(_DUPLICATE_OF, {"_id": article_id}).scalar()
    return int(root) if root is not None else article_id


_DUPLICATE_OF = select(articles.c.duplicate_of).where(articles.c.id == bindparam("_id"))


# the near rung alone (``nearest``, ``candidates``), with the keys as ten parameters of their own
_CANDIDATES = select(simhash_index.c.article_id, simhash_index.c.fingerprint).where(
    simhash_index.c.key.in_([bindparam(k, type_=BigInteger) for k in _KEY_PARAMS])
)


def candidates(conn: Connection, fp: int) -> list[tuple[int, int]]:
    """(article_id, fingerprint) rows sharing an index key with ``fp`` (fingerprints unsigned)."""
    return [(int(a), to_unsigned(int(f))) for a, f in _candidate_rows(conn, fp)]


def _candidate_rows(conn: Connection, fp: int) -> list[tuple[int, int]]:
    params = dict(zip(_KEY_PARAMS, index_keys(fp), strict=True))
    return [(int(a), int(f)) for a, f in conn.execute(_CANDIDATES, params)]


def nearest(conn: Connection, fp: int, max_distance: int) -> tuple[int, int] | None:
    """(article_id, distance) of the closest indexed fingerprint within ``max_distance``, or None."""
    return _nearest(_candidate_rows(conn, fp), fp, max_distance)


def _nearest(rows: list[tuple[int, int]], fp: int, max_distance: int) -> tuple[int, int] | None:
    """Of (article_id, fingerprint) ``rows``, the closest to ``fp`` within ``max_distance``: ties go
    to the lowest article id, so the answer does not depend on row order."""
    best: tuple[int, int] | None = None
    for article_id, other in rows:
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
