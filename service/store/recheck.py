"""Re-checking stored articles: which URLs ``jinshan recheck`` asks for, an article that came back,
and how late the archive saw articles change (``jinshan stats``).

``mark`` makes the URLs of a range of stored articles due now at the recheck's own claim priority
(``crawl.schedule.RECHECK_PRIORITY``); the recheck then drains them through the frontier like any
due URL (leases, shared politeness), so it may run beside the daemon and a re-run resumes. One URL
per article: the row of the article's own URL, or, when the article has none (it was reached through
an address that redirected), the rows that were fetched for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select, update

from service.store.schema import article_versions, articles, urls

#: a URL is marked only in these states: a URL leased to a worker, or waiting for its first fetch,
#: is left as it is
_MARKABLE = ("done", "gone", "retry", "failed")
#: the states of a URL whose last check did not succeed
_RETRIED = ("retry", "failed")
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class RecheckRange:
    """What ``jinshan recheck`` re-checks: articles published in [``since``, ``until``] (a bound left
    None is open; undated articles only when both are), of ``channel`` if given, the gone ones with
    ``gone`` (else the live ones). ``checked_before``: only URLs not fetched since then (a resumed
    run skips what it checked already)."""

    since: date | None = None
    until: date | None = None
    channel: str | None = None
    gone: bool = False
    checked_before: datetime | None = None


def _own_or_only(a: Any) -> Any:
    """The article's URL row: its own address, or any fetched for it when it has no row of its own."""
    own = urls.alias("own")
    return or_(
        urls.c.url_key == a.c.url_key,
        ~exists(select(own.c.id).where(own.c.url_key == a.c.url_key)),
    )


def _candidates(rng: RecheckRange) -> Any:
    q = (
        select(urls.c.id)
        .join(articles, urls.c.article_id == articles.c.id)
        .where(urls.c.state.in_(_MARKABLE), _own_or_only(articles))
    )
    q = q.where(articles.c.gone_at.is_not(None) if rng.gone else articles.c.gone_at.is_(None))
    if rng.since is not None:
        q = q.where(articles.c.published_on >= rng.since)
    if rng.until is not None:
        q = q.where(articles.c.published_on <= rng.until)
    if rng.channel is not None:
        q = q.where(articles.c.channel == rng.channel)
    if rng.checked_before is not None:  # a URL whose check since then failed is marked again
        q = q.where(or_(urls.c.last_fetched_at.is_(None), urls.c.last_fetched_at < rng.checked_before,
                        urls.c.state.in_(_RETRIED)))  # fmt: skip
    return q


def count(conn: Connection, rng: RecheckRange) -> int:
    """How many URLs ``mark`` would make due."""
    return int(conn.execute(select(func.count()).select_from(_candidates(rng).subquery())).scalar_one())


def mark_batch(
    conn: Connection, rng: RecheckRange, *, priority: int, now: datetime, after_id: int
) -> tuple[int, int]:
    """Make the next batch of candidate URLs (ids above ``after_id``) due ``now`` at ``priority``;
    (how many, the last id looked at: 0 when none was left)."""
    ids = list(
        conn.execute(_candidates(rng).where(urls.c.id > after_id).order_by(urls.c.id).limit(_BATCH)).scalars()
    )
    if not ids:
        return 0, 0
    done = conn.execute(
        update(urls)
        .where(urls.c.id.in_(ids), urls.c.state.in_(_MARKABLE))
        .values(due_at=now, priority=priority, updated_at=now)
    )
    return int(done.rowcount), ids[-1]


def unfinished(conn: Connection, *, priority: int, since: datetime) -> int:
    """URLs of a recheck (claim ``priority``) whose check failed since ``since``: waiting for a
    retry, or parked as failed."""
    q = select(func.count()).where(
        urls.c.priority == priority, urls.c.state.in_(_RETRIED), urls.c.updated_at >= since
    )
    return int(conn.execute(q).scalar_one())


def came_back(conn: Connection, article_id: int) -> bool:
    """The article answered again after it was marked gone: clear the mark. Whether it was gone."""
    done = conn.execute(
        update(articles)
        .where(articles.c.id == article_id, articles.c.gone_at.is_not(None))
        .values(gone_at=None)
    )
    return bool(done.rowcount)


#: the ages after publication (or first sighting) at which ``stats`` counts articles changed
CHANGE_AGES = {"1 day": timedelta(days=1), "1 week": timedelta(days=7), "1 month": timedelta(days=30),
               "1 year": timedelta(days=365)}  # fmt: skip


def change_ages(conn: Connection) -> dict[str, int]:
    """How many articles had a version first seen at least each of ``CHANGE_AGES`` after their
    publication (or, undated, their first sighting): edits found late, by age."""
    out = dict.fromkeys(CHANGE_AGES, 0)
    for born, latest in _latest_changes(conn):
        if born is None or latest is None:
            continue
        for name, age in CHANGE_AGES.items():
            if latest - born >= age:
                out[name] += 1
    return out


def _latest_changes(conn: Connection) -> Iterator[tuple[datetime | None, datetime | None]]:
    """(publication or first sighting, first sighting of its newest later version) per changed article."""
    q = (
        select(func.coalesce(articles.c.published_at, articles.c.first_seen_at), func.max(article_versions.c.first_seen_at))
        .join(article_versions, and_(article_versions.c.article_id == articles.c.id, article_versions.c.version > 1))
        .group_by(articles.c.id, articles.c.published_at, articles.c.first_seen_at)
    )  # fmt: skip
    for born, latest in conn.execute(q):
        yield _utc(born), _utc(latest)


def _utc(value: Any) -> datetime | None:
    """A time the aggregate gave back (SQLite: text or naive) as an aware UTC datetime."""
    from datetime import UTC

    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
