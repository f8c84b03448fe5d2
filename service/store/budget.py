"""Politeness shared by every process on one database: the per-host request budget in rows.

The fetcher's ``HostGate`` keeps one process polite; this keeps them all polite together (the
daemon, a backfill and its workers, a second backfill). Before each request a process asks
``reserve``, which in one write transaction (SQLite: the write lock, ``BEGIN IMMEDIATE``;
PostgreSQL: the host's row ``FOR UPDATE``) checks the host's hold-off, the requests in flight and
the earliest start, and when all allow it moves the earliest start on by the interval (the larger of
ours and robots.txt's Crawl-delay) and records the request in flight. The request is sent at once
after the commit, so starts are spaced by the interval whichever process sends them; and no more
than the rate's worth of starts fall in any ``WINDOW_S`` (1 s and a margin for the moments between
a commit and the request reaching the site, which vary by process: at saturation the rate is then
about 5/6 of the configured one, and never above it in any second). ``release`` ends the request;
a request whose process died expires by itself. Cost: two small writes per
request, nothing at one or two requests a second. Times are seconds since the epoch (one clock:
processes of one machine, or machines kept in time by NTP).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update

from service.store.schema import host_budgets, host_requests
from service.store.sql import insert_ignore


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer of ``reserve``: ``token`` of the request when it may start now; otherwise wait
    ``wait`` seconds and ask again, or give up when ``held`` (a hold-off, with its end and reason)."""

    token: int | None
    wait: float = 0.0
    held_until: float | None = None
    reason: str = ""
    #: the moment of the decision (epoch seconds)
    at: float = 0.0


#: how soon to ask again when every place in flight is taken
FULL_POLL_S = 0.05
#: no more than one second's worth of starts within this many seconds (the margin absorbs the
#: varying moments between a commit and the request reaching the site)
WINDOW_S = 1.2
#: times closer than this are the same moment (sums of floats are not exact)
_EPSILON = 1e-6


def _row(conn: Connection, host: str) -> Any:
    insert_ignore(conn, host_budgets, {"host": host, "next_start": 0.0, "crawl_delay": 0.0, "hold_until": 0.0,
                                       "hold_reason": ""})  # fmt: skip
    q = select(host_budgets).where(host_budgets.c.host == host)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).one()


def reserve(
    conn: Connection,
    host: str,
    *,
    clock: Callable[[], float],
    interval: float,
    concurrency: int,
    holder: str,
    lease_s: float,
) -> Grant:
    """Reserve the start of one request to ``host`` now, if the shared budget allows it. ``clock``
    is read once the host is locked, so "now" is the moment of the decision."""
    row = _row(conn, host)
    now = clock()
    if row.hold_until > now:
        return Grant(None, row.hold_until - now, row.hold_until, row.hold_reason)
    if row.next_start > now + _EPSILON:
        return Grant(None, row.next_start - now)
    spacing = max(interval, row.crawl_delay)
    mine = host_requests.c.host == host
    conn.execute(delete(host_requests).where(mine, host_requests.c.started_at < now - 2 * WINDOW_S,
                                             or_(host_requests.c.expires_at.is_(None), host_requests.c.expires_at < now)))  # fmt: skip
    busy = conn.execute(select(func.count()).where(mine, host_requests.c.expires_at >= now)).scalar_one()
    if busy >= concurrency:
        return Grant(None, FULL_POLL_S)
    recent = conn.execute(
        select(host_requests.c.started_at).where(mine, host_requests.c.started_at > now - WINDOW_S + _EPSILON)
        .order_by(host_requests.c.started_at)
    ).scalars().all()  # fmt: skip
    per_second = max(1, int(1.0 / spacing + 1e-9))
    if len(recent) >= per_second:
        return Grant(None, recent[len(recent) - per_second] + WINDOW_S - now)
    conn.execute(update(host_budgets).where(host_budgets.c.host == host).values(next_start=now + spacing))
    token = conn.execute(
        insert(host_requests)
        .values(host=host, holder=holder, started_at=now, expires_at=now + lease_s)
        .returning(host_requests.c.id)
    ).scalar_one()
    return Grant(int(token), at=now)


def release(conn: Connection, token: int) -> None:
    """The request ended (its start still counts in the window)."""
    conn.execute(update(host_requests).where(host_requests.c.id == token).values(expires_at=None))


def hold(conn: Connection, host: str, *, until: float, reason: str) -> None:
    """No request to ``host`` before ``until`` (a later hold wins)."""
    row = _row(conn, host)
    if until > row.hold_until:
        conn.execute(
            update(host_budgets)
            .where(host_budgets.c.host == host)
            .values(hold_until=until, hold_reason=reason[:64])
        )


def set_crawl_delay(conn: Connection, host: str, delay: float) -> None:
    """robots.txt's Crawl-delay for ``host`` (0 when it names none)."""
    row = _row(conn, host)
    if row.crawl_delay != delay:
        conn.execute(update(host_budgets).where(host_budgets.c.host == host).values(crawl_delay=delay))
