"""What ``jinshan reparse`` reads and writes: stored articles and refused URLs with their archived
fetches, and the results of re-extracting them, written in batches.

Reading is streamed by id (keyset pages), so memory stays constant however large the archive; the
caller resumes after the last id it finished. Writing takes a batch of re-extracted articles and
stores them through the same ladder as the crawl (``articles.store``: dedup, versions, aliases) in
one transaction, so a reparse costs one commit per batch instead of one per article.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from service.model import Article
from service.settings import DedupSettings
from service.site.urls import url_key
from service.store import articles as stored
from service.store import frontier
from service.store.dedup import Fingerprints
from service.store.schema import article_versions, articles, fetches, state_is, urls
from service.store.types import StoreOutcome

PAGE = 200
#: the URL state of a page refused as not an article (``finish_url(state="not_article")``)
REFUSED_STATE = "not_article"


@dataclass(frozen=True, slots=True)
class ArchivedFetch:
    fetch_id: int
    url_id: int
    fetched_at: datetime
    warc_file: str
    warc_offset: int


@dataclass(frozen=True, slots=True)
class ReparseSource:
    """One article (``refused`` False) or one URL refused as not an article (``refused`` True), and
    its archived 2xx fetches, newest first (page 1 and the further pages of a split article are
    among them; the WARC record says which URL each one is).

    ``id`` is the article id, or for a refused URL the URL id. For an article, ``version_hash`` and
    ``last_seen_at`` are those of its current version: a re-extraction with the same version hash
    changes nothing, and one that differs must count as seen after ``last_seen_at``.
    """

    id: int
    url: str
    fetches: tuple[ArchivedFetch, ...]
    refused: bool = False
    version_hash: str | None = None
    last_seen_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reparsed:
    """A re-extracted article to store. ``seen_at`` is when it counts as seen. For a recovered
    refused URL, ``recover`` holds the URL's next due time (None: no revisit), and the URL is
    finished as "done" with the article in the same transaction; ``alias`` is the URL to record as
    a redirect alias when the archived response came from another address."""

    article: Article
    fps: Fingerprints
    url_id: int
    fetch_id: int
    seen_at: datetime
    recover: bool = False
    next_due_at: datetime | None = None
    #: the claim priority of that next check (``crawl.schedule``)
    next_priority: int = 0
    alias: str | None = None


def count(conn: Connection, *, since: date | None, until: date | None, after_id: int = 0) -> int:
    """Articles (not near-duplicate copies) published in the range, after ``after_id``."""
    q = (
        select(func.count())
        .select_from(articles)
        .where(articles.c.id > after_id, articles.c.duplicate_of.is_(None))
    )
    q = _dated(q, articles.c.published_on, since, until)
    return int(conn.execute(q).scalar() or 0)


def count_refused(conn: Connection, *, since: date | None, until: date | None, after_id: int = 0) -> int:
    """URLs refused as not articles, dated in the range by their path, after ``after_id``."""
    q = select(func.count()).select_from(urls).where(urls.c.id > after_id, state_is(REFUSED_STATE))
    q = _dated(q, urls.c.published_on, since, until)
    return int(conn.execute(q).scalar() or 0)


def _dated(q: Any, column: Any, since: date | None, until: date | None) -> Any:
    if since is not None:
        q = q.where(column >= since)
    if until is not None:
        q = q.where(column <= until)
    return q


#: a page of sources and the id to read on after (None: the last page)
Page = tuple[list[ReparseSource], int | None]


def sources_page(conn: Connection, *, since: date | None, until: date | None, after: int) -> Page:
    """The next ``PAGE`` articles (not near-duplicate copies) published in the range, by id, after
    ``after`` (keyset: ``Store.reparse_sources`` reads page after page, each on its own connection)."""
    q = _dated(
        select(articles.c.id, articles.c.url, article_versions.c.version_hash, article_versions.c.last_seen_at)
        .outerjoin(article_versions, article_versions.c.id == articles.c.current_version_id)
        .where(articles.c.duplicate_of.is_(None)),
        articles.c.published_on, since, until,
    )  # fmt: skip
    rows, found, last = _page(conn, q, articles.c.id, urls.c.article_id, after)
    return [
        ReparseSource(r.id, r.url, found.get(r.id, ()), False, r.version_hash, r.last_seen_at) for r in rows
    ], last


def refused_page(conn: Connection, *, since: date | None, until: date | None, after: int) -> Page:
    """The next ``PAGE`` URLs refused as not articles, dated in the range by their path, by id,
    after ``after``."""
    q = _dated(
        select(urls.c.id, urls.c.url).where(state_is(REFUSED_STATE)), urls.c.published_on, since, until
    )
    rows, found, last = _page(conn, q, urls.c.id, urls.c.id, after)
    return [ReparseSource(r.id, r.url, found.get(r.id, ()), True) for r in rows], last


def _page(
    conn: Connection, q: Any, key: Any, owner: Any, after: int
) -> tuple[Sequence[Any], dict[int, tuple[ArchivedFetch, ...]], int | None]:
    """The rows of ``q`` by ``key`` after ``after``, one page; the archived fetches of the URLs
    whose ``owner`` column holds a row's id; the id to read on after (None: the last page)."""
    rows = conn.execute(q.where(key > after).order_by(key).limit(PAGE)).all()
    return rows, _fetches(conn, owner, [r.id for r in rows]), (rows[-1].id if len(rows) == PAGE else None)


def _fetches(conn: Connection, owner: Any, ids: list[int]) -> dict[int, tuple[ArchivedFetch, ...]]:
    """The archived 2xx fetches of the URLs whose ``owner`` column (article id, URL id) is in
    ``ids``, newest first, grouped by that column."""
    if not ids:
        return {}
    q = (
        select(owner.label("owner"), fetches.c.id, fetches.c.url_id, fetches.c.fetched_at,
               fetches.c.warc_file, fetches.c.warc_offset)
        .join(urls, urls.c.id == fetches.c.url_id)
        .where(owner.in_(ids), fetches.c.warc_file.is_not(None), fetches.c.status >= 200, fetches.c.status < 300)
        .order_by(fetches.c.fetched_at.desc(), fetches.c.id.desc())
    )  # fmt: skip
    found: dict[int, list[ArchivedFetch]] = {}
    for r in conn.execute(q):
        found.setdefault(r.owner, []).append(
            ArchivedFetch(r.id, r.url_id, r.fetched_at, r.warc_file, int(r.warc_offset))
        )
    return {k: tuple(v) for k, v in found.items()}


def write(
    conn: Connection,
    items: Sequence[Reparsed],
    *,
    canonicalize: Callable[[str], str],
    settings: DedupSettings,
    now: datetime,
) -> list[StoreOutcome]:
    """Store re-extracted articles in the caller's write transaction (``Store.write_reparsed``
    reruns it whole on a race; every step is an idempotent upsert); their outcomes in order."""
    return [_write_one(conn, item, canonicalize, settings, now) for item in items]


def _write_one(
    conn: Connection,
    item: Reparsed,
    canonicalize: Callable[[str], str],
    settings: DedupSettings,
    now: datetime,
) -> StoreOutcome:
    outcome = stored.store(conn, item.article, canonicalize=canonicalize, settings=settings,
                           url_id=item.url_id, fetch_id=item.fetch_id, seen_at=item.seen_at,
                           link_url=not item.recover, fps=item.fps)  # fmt: skip
    if item.recover:  # as the crawl ends a stored URL: "done", attempts reset, linked to its article
        frontier.finish_url(conn, item.url_id, state="done", next_due_at=item.next_due_at, now=now,
                            reset_attempts=True, fields={"error": None, "article_id": outcome.article_id,
                            "priority": item.next_priority,
                            "published_at": item.article.published_at or item.seen_at})  # fmt: skip
    if item.alias is not None:
        alias = canonicalize(item.alias)
        stored.add_alias(
            conn, outcome.article_id, alias, url_key(alias), reason="redirect", seen_at=item.seen_at
        )
    return outcome


_REQUEUE = (
    update(urls)
    .where(urls.c.id == bindparam("_id"), state_is(REFUSED_STATE))
    .values(state="new", due_at=bindparam("_due"), attempts=0, last_error=bindparam("_error"),
            lease_until=None, leased_by=None, updated_at=bindparam("_due"))
)  # fmt: skip


def requeue(conn: Connection, items: Sequence[tuple[int, str]], *, now: datetime) -> None:
    """Put refused URLs back in the frontier, due at ``now``, to be fetched again: (URL id, why)
    each; the reason is kept as the URL's last error. A URL no longer refused is left as it is."""
    if items:
        params = [{"_id": i, "_due": now, "_error": f"requeued by reparse: {why}"[:500]} for i, why in items]
        conn.execute(_REQUEUE, params)
