"""The frontier: which URLs exist, which are due, who is fetching what, and how each fetch ended.

A URL is claimable when ``due_at <= now``. Claiming sets ``state = "fetching"`` and moves ``due_at``
to the end of the lease, so a worker that dies leaves a URL that becomes claimable again by itself
when the lease runs out: no sweeper, and one index (``due_at``) serves every claim. Terminal states
have ``due_at = NULL``. PostgreSQL claims with ``FOR UPDATE SKIP LOCKED`` (workers never wait on each
other); SQLite claims inside one ``BEGIN IMMEDIATE`` transaction (writers are serialised anyway).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, case, func, literal, or_, select, union_all, update

from service.site.urls import url_key
from service.store.schema import article_urls, fetches, state_is, url_state_counts, urls
from service.store.sql import aware, insert_ignore, insert_ignore_many
from service.store.types import URL_KINDS, URL_STATES, ClaimedUrl, NewUrl

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


_KNOWN_KEYS = select(urls.c.url_key, urls.c.state, urls.c.due_at).where(
    urls.c.url_key.in_(bindparam("keys", expanding=True))
)
# only a URL never fetched moves: rediscovery must not pull a planned revisit forward, cut a retry's
# backoff short, resurrect a finished URL (due_at NULL) or break a lease
_EARLIER = (
    update(urls)
    .where(urls.c.url_key == bindparam("k"), urls.c.state == "new", urls.c.due_at > bindparam("d"))
    .values(due_at=bindparam("d"), updated_at=bindparam("now"))
)


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
    existing = {key: (state, due) for key, state, due in conn.execute(_KNOWN_KEYS, {"keys": keys})}
    missing = [row for row in rows if row["url_key"] not in existing]
    # one multi-row statement; the ids that come back are the rows it created (a concurrent writer's
    # rows are skipped, not counted)
    new = len(insert_ignore_many(conn, urls, missing, returning=True)) if missing else 0
    # only rows that would move are updated (the UPDATE checks again): a link seen again is mostly
    # due already, or fetched, and then costs no statement
    earlier = [
        {"k": r["url_key"], "d": r["due_at"], "now": r["updated_at"]}
        for r in rows
        if (known := existing.get(r["url_key"])) and known[0] == "new" and known[1] is not None
        and known[1] > r["due_at"]
    ]  # fmt: skip
    if earlier:
        conn.execute(_EARLIER, earlier)
    return new


_KNOWN_BEFORE = union_all(
    select(urls.c.url_key).where(
        urls.c.url_key.in_(bindparam("keys", expanding=True)), urls.c.created_at < bindparam("at")
    ),
    select(article_urls.c.url_key).where(
        article_urls.c.url_key.in_(bindparam("keys", expanding=True)),
        article_urls.c.first_seen_at < bindparam("at"),
    ),
)


def known_before(conn: Connection, keys: Collection[str], at: datetime) -> set[str]:
    """The ``keys`` the archive held before ``at``: in the frontier, or recorded as an alias."""
    wanted = list(dict.fromkeys(keys))
    known: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        known.update(conn.execute(_KNOWN_BEFORE, {"keys": chunk, "at": aware(at)}).scalars())
    return known


def claim_due(
    conn: Connection,
    *,
    limit: int,
    now: datetime,
    lease_s: float,
    worker: str,
    kinds: Collection[str] | None = None,
    published_between: tuple[date, date] | None = None,
    max_attempts: int | None = None,
    priorities: tuple[int, int] | None = None,
) -> list[ClaimedUrl]:
    """Lease up to ``limit`` due URLs (highest priority, then longest overdue) to ``worker``;
    ``priorities``: only URLs whose priority lies in that band, inclusive.

    A URL still "fetching" when its lease ran out was claimed by a worker that died or hung on it
    (a page that kills its worker): that claim counts as an attempt, and with ``max_attempts`` the
    URL is parked as "failed" once it has had them all, instead of killing worker after worker."""
    if max_attempts is not None:
        park_dead_claims(conn, now=now, max_attempts=max_attempts)
    # the statements are built once and executed with their parameters: no copy to derive a cache
    # key from on each call (half of a claim's CPU was SQLAlchemy's building them anew)
    params = _claim_params(now=now, limit=limit, kinds=kinds, published_between=published_between)
    if kinds is not None and not kinds:
        return []
    if priorities is not None:
        params["lowest"], params["highest"] = priorities
    stmt = _claim_stmt(_kinds(kinds), published_between is not None, _band(priorities))
    ids = [r[0] for r in conn.execute(stmt, params)]
    if not ids:
        return []
    lease = {"end": now + timedelta(seconds=lease_s), "worker": worker, "now": now, "ids": ids}
    rows = conn.execute(_LEASE, lease).all()
    order = {i: n for n, i in enumerate(ids)}
    return [
        ClaimedUrl(**dict(zip(_CLAIMED, r, strict=True))) for r in sorted(rows, key=lambda r: order[r[0]])
    ]


# what a worker needs of a claimed URL
_CLAIMED = ("id", "url", "kind", "attempts", "etag", "last_modified", "payload_digest", "article_id",
            "published_on", "published_at", "priority")  # fmt: skip
_LEASE_VALUES = {"state": "fetching", "due_at": bindparam("end"), "lease_until": bindparam("end"),
                 "leased_by": bindparam("worker"), "updated_at": bindparam("now"),
                 # a URL still "fetching" when claimed again: its last claim died (counts as an attempt)
                 "attempts": urls.c.attempts + case((urls.c.state == "fetching", 1), else_=0)}  # fmt: skip


#: the lease of the claimed URLs and the read of the leased rows in one statement (two round trips
#: a claim, not three)
_LEASE = (
    update(urls)
    .where(urls.c.id.in_(bindparam("ids", expanding=True)))
    .values(_LEASE_VALUES)
    .returning(*(urls.c[c] for c in _CLAIMED))
)


def claim_query(
    *,
    now: datetime,
    limit: int,
    kinds: Collection[str] | None = None,
    published_between: tuple[date, date] | None = None,
) -> Any:
    """The ids a claim takes. ``ix_urls_claim`` (0006) holds this order, so the database reads the
    first due rows of the index and stops at ``limit``: the cost does not grow with the frontier.
    Rows the filters refuse are stepped over, as are URLs of a higher priority that are not due yet."""
    params = _claim_params(now=now, limit=limit, kinds=kinds, published_between=published_between)
    return _claim_stmt(_kinds(kinds), published_between is not None).params(params)


def _claim_params(
    *, now: datetime, limit: int, kinds: Collection[str] | None, published_between: tuple[date, date] | None
) -> dict[str, Any]:
    params: dict[str, Any] = {"now": aware(now), "limit": limit}
    if kinds is not None:
        params.update((f"kind{n}", kind) for n, kind in enumerate(kinds))
    if published_between is not None:
        params["first"], params["last"] = published_between
    return params


def _band(priorities: tuple[int, int] | None) -> str | None:
    """How a claim filters on priority: "level" (one priority: an equality, so the index is read
    from its first due row to its last and no further), "band" (a range), or not at all."""
    if priorities is None:
        return None
    return "level" if priorities[0] == priorities[1] else "band"


def _kinds(kinds: Collection[str] | None) -> int | None:
    return None if kinds is None else len(kinds)


@functools.cache
def _claim_stmt(kinds: int | None, by_date: bool, by_priority: str | None = None) -> Any:
    """The claim's SELECT for one combination of filters (``kinds``: how many kinds, parameters
    ``kind0``…; ``by_priority``: see ``_band``, parameters ``lowest`` and ``highest``), built once.
    A range of priorities reads, after the due rows of one priority, its rows not due yet before
    the next priority's: a claim of one priority at a time does not (``crawl.drain``)."""
    q = select(urls.c.id).where(urls.c.due_at <= bindparam("now", type_=urls.c.due_at.type))
    if by_priority == "level":
        q = q.where(urls.c.priority == bindparam("lowest", type_=Integer))
    elif by_priority == "band":
        q = q.where(
            urls.c.priority.between(bindparam("lowest", type_=Integer), bindparam("highest", type_=Integer))
        )
    if kinds is not None:
        q = q.where(urls.c.kind.in_([bindparam(f"kind{n}", type_=urls.c.kind.type) for n in range(kinds)]))
    if by_date:
        q = q.where(urls.c.published_on.between(bindparam("first"), bindparam("last")))
    q = q.order_by(urls.c.priority.desc(), urls.c.due_at, urls.c.id).limit(bindparam("limit", type_=Integer))
    return q.with_for_update(skip_locked=True)


def lease_values(
    state: str, *, due_at: datetime | None, leased_by: str | None, now: datetime, attempts_added: Any
) -> dict[str, Any]:
    """The columns a lease changes: taken (``leased_by`` set, held until ``due_at``) or ended."""
    return {"state": state, "due_at": due_at, "lease_until": due_at if leased_by else None,
            "leased_by": leased_by, "updated_at": now, "attempts": urls.c.attempts + attempts_added}  # fmt: skip


#: the reason a URL is parked when its claims kept dying
DIED_ERROR = "worker died or hung while processing it {n} times (a page that crashes the parser?)"


def park_dead_claims(
    conn: Connection, *, now: datetime, max_attempts: int, workers: Collection[str] = ()
) -> int:
    """Park as "failed" the URLs whose lease ran out (or whose worker is among ``workers``, known
    dead) and whose dead claim was their last allowed attempt; how many."""
    params = {"now": aware(now), "max": max_attempts, "error": DIED_ERROR.format(n=max_attempts)}
    if not workers:  # the claim's own check, before each claim: built once
        return int(conn.execute(_PARK_EXPIRED, params).rowcount)
    return int(conn.execute(_park(urls.c.leased_by.in_(list(workers))), params).rowcount)


def _park(dead: Any) -> Any:
    return (
        update(urls)
        .where(state_is("fetching"), dead, urls.c.attempts + 1 >= bindparam("max", type_=Integer))
        .values(state="failed", due_at=None, lease_until=None, leased_by=None, updated_at=bindparam("now"),
                attempts=urls.c.attempts + 1, last_error=bindparam("error"))
    )  # fmt: skip


#: after every lease: ``coalesce(due_at, _NEVER)`` is ``due_at``, and a NULL is never expired
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)
# Before each claim. A bare ``due_at <= now`` let SQLite's planner (without statistics: nothing
# ANALYZEs the frontier) scan the whole claim index, partial on ``due_at``, for the few leased URLs:
# 0.3 ms per claim at 2,000 due URLs, 3 ms at 20,000. Wrapped, only ``ix_urls_fetching`` serves it.
_PARK_EXPIRED = _park(
    func.coalesce(urls.c.due_at, literal(_NEVER, urls.c.due_at.type))
    <= bindparam("now", type_=urls.c.due_at.type)
)


def record_fetch(conn: Connection, url_id: int, values: dict[str, Any]) -> int:
    """Insert one exchange (once per URL and instant) and move the URL's ``last_fetched_at``; its id."""
    fetch_id = insert_fetch(conn, url_id, values)
    conn.execute(_LAST_FETCHED, {"_id": url_id, "_fetched_at": values["fetched_at"]})
    return fetch_id


def insert_fetch(conn: Connection, url_id: int, values: dict[str, Any]) -> int:
    """Insert one exchange (once per URL and instant); its id."""
    fetch_id = insert_ignore(conn, fetches, {"url_id": url_id, **values})
    if fetch_id is None:
        return int(conn.execute(_FETCH_AT, {"_id": url_id, "_fetched_at": values["fetched_at"]}).scalar_one())
    return fetch_id


# the newest exchange wins, whatever order fetches are replayed in
_NEWER_FETCH = case(
    (
        or_(urls.c.last_fetched_at.is_(None), urls.c.last_fetched_at < bindparam("_fetched_at")),
        bindparam("_fetched_at"),
    ),
    else_=urls.c.last_fetched_at,
)
_LAST_FETCHED = update(urls).where(urls.c.id == bindparam("_id")).values(last_fetched_at=_NEWER_FETCH)
_FETCH_AT = select(fetches.c.id).where(
    fetches.c.url_id == bindparam("_id"), fetches.c.fetched_at == bindparam("_fetched_at")
)


def finish_url(
    conn: Connection,
    url_id: int,
    *,
    state: str,
    next_due_at: datetime | None,
    now: datetime,
    reset_attempts: bool,
    fields: dict[str, Any],
    fetched_at: datetime | None = None,
) -> None:
    """End a lease: new state, next due time, validators; ``retry`` counts an attempt.

    ``fields`` given as None keep their stored value, except ``error``, which None clears.
    ``fetched_at``: also move ``last_fetched_at`` (``record_fetch``'s update, folded into this one).
    """
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
    attempts = "reset" if reset_attempts else "count" if state == "retry" else "keep"
    stmt = _finish_stmt(tuple(sorted(values)), attempts, fetched_at is not None)
    # bind names differ from the column names: SQLAlchemy reserves those for its own SET binds
    params = {f"v_{k}": v for k, v in values.items()}
    if conn.execute(stmt, {"_id": url_id, "_fetched_at": fetched_at, **params}).rowcount == 0:
        raise KeyError(f"no URL with id {url_id}")


@functools.cache
def _finish_stmt(columns: tuple[str, ...], attempts: str, fetched: bool) -> Any:
    """The UPDATE of ``finish_url`` for one set of columns, built once: SQLAlchemy then skips
    rebuilding and re-keying the statement on every call of the crawl's hottest write."""
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
    if fetched:
        values["last_fetched_at"] = _NEWER_FETCH
    if attempts == "reset":
        values["attempts"] = 0
    elif attempts == "count":
        values["attempts"] = urls.c.attempts + 1
    return update(urls).where(urls.c.id == bindparam("_id")).values(values)


def counts(conn: Connection) -> dict[str, int]:
    """URLs per state (every state present, zeros included): the rows of ``url_state_counts``,
    which triggers keep (0006), so this reads 8 rows however large the frontier."""
    out = dict.fromkeys(URL_STATES, 0)
    for state, n in conn.execute(_COUNTS):
        out[state] = int(n)
    return out


_COUNTS = select(url_state_counts.c.state, url_state_counts.c.n)
