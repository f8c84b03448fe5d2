"""What ``jinshan reparse`` reads: for each stored article, the archived fetches of its URLs.

Streamed by article id (keyset pages), so memory stays constant however large the archive; the
caller resumes after the last id it finished.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from service.store.schema import articles, fetches, urls

PAGE = 200


@dataclass(frozen=True, slots=True)
class ArchivedFetch:
    fetch_id: int
    url_id: int
    fetched_at: datetime
    warc_file: str
    warc_offset: int


@dataclass(frozen=True, slots=True)
class ReparseSource:
    """One article and its archived 2xx fetches, newest first (page 1 and the further pages of a split
    article are among them; the WARC record says which URL each one is)."""

    article_id: int
    url: str
    fetches: tuple[ArchivedFetch, ...]


def count(engine: Engine, *, since: date | None, until: date | None, after_id: int = 0) -> int:
    q = (
        select(func.count())
        .select_from(articles)
        .where(articles.c.id > after_id, articles.c.duplicate_of.is_(None))
    )
    q = _dated(q, since, until)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar() or 0)


def _dated(q: Any, since: date | None, until: date | None) -> Any:
    if since is not None:
        q = q.where(articles.c.published_on >= since)
    if until is not None:
        q = q.where(articles.c.published_on <= until)
    return q


def sources(
    engine: Engine, *, since: date | None, until: date | None, after_id: int = 0
) -> Iterator[ReparseSource]:
    """Articles (not near-duplicate copies) published in the range, by id, after ``after_id``."""
    last = after_id
    while True:
        q = _dated(
            select(articles.c.id, articles.c.url)
            .where(articles.c.id > last, articles.c.duplicate_of.is_(None))
            .order_by(articles.c.id)
            .limit(PAGE),
            since,
            until,
        )
        with engine.connect() as conn:
            rows = conn.execute(q).all()
            ids = [r.id for r in rows]
            found: dict[int, list[ArchivedFetch]] = {}
            if ids:
                fq = (
                    select(urls.c.article_id, fetches.c.id, fetches.c.url_id, fetches.c.fetched_at,
                           fetches.c.warc_file, fetches.c.warc_offset)
                    .join(urls, urls.c.id == fetches.c.url_id)
                    .where(urls.c.article_id.in_(ids), fetches.c.warc_file.is_not(None),
                           fetches.c.status >= 200, fetches.c.status < 300)
                    .order_by(fetches.c.fetched_at.desc())
                )  # fmt: skip
                for r in conn.execute(fq):
                    found.setdefault(r.article_id, []).append(
                        ArchivedFetch(r.id, r.url_id, r.fetched_at, r.warc_file, int(r.warc_offset))
                    )
        for r in rows:
            yield ReparseSource(r.id, r.url, tuple(found.get(r.id, ())))
        if len(rows) < PAGE:
            return
        last = rows[-1].id
