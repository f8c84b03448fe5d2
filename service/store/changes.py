"""The site's changes as the archive saw them, newest first: articles edited (a version after the
first) and articles deleted (marked gone), for the web view's changes page and its Atom feed.

Each kind is read newest first from its own partial index (``ix_article_versions_changes``,
``ix_articles_gone_at``, migration 0011), at most ``limit`` rows each, and the two are merged: a
page costs the same on a million articles as on a thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from service.store.schema import article_versions, articles

#: the kinds of change, as the page's filter names them
KINDS = ("edited", "deleted")


@dataclass(frozen=True, slots=True)
class Change:
    """One change: ``kind`` "edited" (``version`` is the new version's number; its diff is from the
    one before) or "deleted"; ``at`` when the archive first saw it."""

    kind: str
    at: datetime
    article_id: int
    title: str
    channel: str | None
    url: str
    version: int


def recent(
    conn: Connection,
    *,
    before: datetime | None = None,
    channel: str | None = None,
    kinds: tuple[str, ...] = KINDS,
    limit: int = 100,
) -> list[Change]:
    """Up to ``limit`` changes seen before ``before`` (all when None), newest first; of ``channel``
    (the article's current channel) and of ``kinds`` only, when given. Raises ``ValueError`` for an
    unknown kind."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind of change {sorted(unknown)}; expected one of {KINDS}")
    found: list[Change] = []
    if "edited" in kinds:
        found += _edits(conn, before=before, channel=channel, limit=limit)
    if "deleted" in kinds:
        found += _deletions(conn, before=before, channel=channel, limit=limit)
    found.sort(key=lambda c: (c.at, c.article_id, c.version), reverse=True)
    return found[:limit]


def _edits(conn: Connection, *, before: datetime | None, channel: str | None, limit: int) -> list[Change]:
    v, a = article_versions, articles
    q = (
        select(v.c.first_seen_at, v.c.article_id, v.c.title, v.c.version, a.c.channel, a.c.url)
        .join(a, a.c.id == v.c.article_id)
        .where(v.c.version > 1)
        .order_by(v.c.first_seen_at.desc(), v.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(v.c.first_seen_at < before)
    if channel is not None:
        q = q.where(a.c.channel == channel)
    return [Change("edited", r.first_seen_at, int(r.article_id), r.title, r.channel, r.url, int(r.version))
            for r in conn.execute(q)]  # fmt: skip


def _deletions(conn: Connection, *, before: datetime | None, channel: str | None, limit: int) -> list[Change]:
    a = articles
    current = aliased(article_versions)
    q = (
        select(a.c.gone_at, a.c.id, current.c.title, current.c.version, a.c.channel, a.c.url)
        .join(current, current.c.id == a.c.current_version_id)
        .where(a.c.gone_at.is_not(None))
        .order_by(a.c.gone_at.desc(), a.c.id.desc())
        .limit(limit)
    )
    if before is not None:
        q = q.where(a.c.gone_at < before)
    if channel is not None:
        q = q.where(a.c.channel == channel)
    return [Change("deleted", r.gone_at, int(r.id), r.title, r.channel, r.url, int(r.version))
            for r in conn.execute(q)]  # fmt: skip
