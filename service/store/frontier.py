"""The frontier: which URLs exist, which are due, who is fetching what, and how each fetch ended.

A URL is claimable when ``due_at <= now``. Claiming sets ``state = "fetching"`` and moves ``due_at``
to the end of the lease, so a worker that dies leaves a URL that becomes claimable again by itself
when the lease runs out: no sweeper, and one index (``due_at``) serves every claim. Terminal states
have ``due_at = NULL``. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (workers never wait on each
other); SQLite claims inside one ``BEGIN IMMEDIATE`` transaction (writers are serialised anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from service.store.schema import fetches, urls
from service.store.sql import aware, insert_ignore, insert_ignore_many
from service.store.types import URL_KINDS, URL_STATES, ClaimedUrl, NewUrl
from service.urls import url_key

_CHUNK = 500


def add_urls(
    conn: Connection, items: Iterable[NewUrl], *, canonicalize: Callable[[str], str], now: datetime
) -> int:
    """Insert new URLs, pull existing ones' ``due_at`` earlier when asked; how many were new."""
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        if item.kind not in URL_KINDS:
            raise ValueError(f"unknown URL kind {item.kind!r}; expected one of {URL_KINDS}")
        canon = canonicalize(item.url)
        key = url_key(canon)
        aware(item.due_at)
        row = rows.get(key)
        if row is None or item.due_at < row["due_at"]:
            rows[key] = _new_row(item, canon, key, now)
    new = 0
    values = list(rows.values())
    for start in range(0, len(values), _CHUNK):
        new += _add_chunk(conn, values[start : start + _CHUNK])
    return new


def _new_row(item: NewUrl, canon: str, key: str, now: datetime) -> dict[str, Any]:
    return {
        "url_key": key,
        "url": canon,
        "kind": item.kind,
        "state": "new",
        "priority": item.priority,
        "found_on": item.found_on,
        "published_on": item.published_on,
        "due_at": item.due_at,
        "attempts": 0,
        "created_at": now,
        "updated_at": now,
    }


def _add_chunk(conn: Connection, rows: list[dict[str, Any]]) -> int:
    keys = [r["url_key"] for r in rows]
    existing = set(conn.execute(select(urls.c.url_key).where(urls.c.url_key.in_(keys))).scalars())
    missing = [row for row in rows if row["url_key"] not in existing]
    # one multi-row statement; the ids that come back are the rows it created (a concurrent writer's
    # rows are skipped, not counted)
    new = len(insert_ignore_many(conn, urls, missing, returning=True)) if missing else 0
    earlier = [
        {"k": r["url_key"], "d": r["due_at"], "now": r["updated_at"]}
        for r in rows
        if r["url_key"] in existing
    ]
    if earlier:
        # only a URL never fetched moves: rediscovery must not pull a planned revisit forward, cut a
        # retry's backoff short, resurrect a finished URL (due_at NULL) or break a lease
        conn.execute(
            update(urls)
            .where(
                urls.c.url_key == bindparam("k"),
                urls.c.state == "new",
                urls.c.due_at > bindparam("d"),
            )
            .values(due_at=bindparam("d"), updated_at=bindparam("now")),
            earlier,
        )
    return new


def claim_due(
    conn: Connection,
    *,
    limit: int,
    now: datetime,
    lease_s: float,
    worker: str,
    kinds: Collection[str] | None = None,
    published_between: tuple[date, date] | None = None,
) -> list[ClaimedUrl]:
    """Lease up to ``limit`` due URLs (highest priority, then longest overdue) to ``worker``."""
    q = select(urls.c.id).where(urls.c.due_at <= aware(now))
    if kinds is not None:
        q = q.where(urls.c.kind.in_(list(kinds)))
    if published_between is not None:
        q = q.where(urls.c.published_on.between(*published_between))
    q = q.order_by(urls.c.priority.desc(), urls.c.due_at, urls.c.id).limit(limit)
    ids = list(conn.execute(q.with_for_update(skip_locked=True)).scalars())
    if not ids:
        return []
    lease_end = now + timedelta(seconds=lease_s)
    conn.execute(
        update(urls)
        .where(urls.c.id.in_(ids))
        .values(state="fetching", due_at=lease_end, lease_until=lease_end, leased_by=worker, updated_at=now)
    )
    rows = conn.execute(select(urls).where(urls.c.id.in_(ids))).all()
    order = {i: n for n, i in enumerate(ids)}
    return [_claimed(r) for r in sorted(rows, key=lambda r: order[r.id])]


def _claimed(r: Any) -> ClaimedUrl:
    return ClaimedUrl(
        id=r.id,
        url=r.url,
        kind=r.kind,
        attempts=r.attempts,
        etag=r.etag,
        last_modified=r.last_modified,
        payload_digest=r.payload_digest,
        article_id=r.article_id,
        published_on=r.published_on,
    )


def record_fetch(conn: Connection, url_id: int, values: dict[str, Any]) -> int:
    """Insert one exchange (once per URL and instant); its id."""
    fetch_id = insert_ignore(conn, fetches, {"url_id": url_id, **values})
    if fetch_id is None:
        fetch_id = conn.execute(
            select(fetches.c.id).where(
                fetches.c.url_id == url_id, fetches.c.fetched_at == values["fetched_at"]
            )
        ).scalar_one()
    conn.execute(
        update(urls)
        .where(urls.c.id == url_id)
        .where(func.coalesce(urls.c.last_fetched_at, values["fetched_at"]) <= values["fetched_at"])
        .values(last_fetched_at=values["fetched_at"])
    )
    return int(fetch_id)


def finish_url(
    conn: Connection,
    url_id: int,
    *,
    state: str,
    next_due_at: datetime | None,
    now: datetime,
    reset_attempts: bool,
    fields: dict[str, Any],
) -> None:
    """End a lease: new state, next due time, validators; ``retry`` counts an attempt."""
    if state not in URL_STATES:
        raise ValueError(f"unknown URL state {state!r}; expected one of {URL_STATES}")
    if next_due_at is not None:
        aware(next_due_at)
    values: dict[str, Any] = {
        "state": state,
        "due_at": next_due_at,
        "lease_until": None,
        "leased_by": None,
        "updated_at": now,
        "last_error": fields.pop("error", None),
        **{k: v for k, v in fields.items() if v is not None},
    }
    if reset_attempts:
        values["attempts"] = 0
    elif state == "retry":
        values["attempts"] = urls.c.attempts + 1
    result = conn.execute(update(urls).where(urls.c.id == url_id).values(**values))
    if result.rowcount == 0:
        raise KeyError(f"no URL with id {url_id}")


def counts(conn: Connection) -> dict[str, int]:
    """URLs per state (every state present, zeros included)."""
    out = dict.fromkeys(URL_STATES, 0)
    for state, n in conn.execute(select(urls.c.state, func.count()).group_by(urls.c.state)):
        out[state] = int(n)
    return out


def due_count(conn: Connection, now: datetime) -> int:
    """URLs claimable now (including leases that ran out)."""
    return int(
        conn.execute(select(func.count()).select_from(urls).where(urls.c.due_at <= aware(now))).scalar_one()
    )
