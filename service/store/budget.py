"""Politeness shared by every process on one database: the per-host request budget in rows.

The fetcher's ``HostGate`` keeps one process polite; this keeps them all polite together (the
daemon, a backfill and its workers, a second backfill). A process does not ask before each request:
it reserves a *batch* (``reserve``), in one write transaction (SQLite: the write lock; PostgreSQL:
the host's row ``FOR UPDATE``) that checks the host's hold-off and the places in flight, then takes

- the next ``starts`` start times of the host, ``spacing`` apart from the host's earliest start on
  (as many as fit in ``span_s``, at least one), by moving the host's earliest start past them; and
- up to ``places`` places in flight (one row each in ``host_requests``, with an expiry so that a
  process that dies frees them by itself).

The process then hands the starts out locally at their times (``HostGate``) and, when the batch is
spent or it stops, ends it (``finish``): the places are freed, and the starts it did not use are
given back when nobody reserved after it. Every start is therefore at least ``spacing`` after the
previous one whichever process sends it, and never more than ``concurrency`` requests are in flight.
``spacing`` is the larger of the interval (ours, or robots.txt's Crawl-delay) and ``WINDOW_S`` over
the starts allowed per second: no more than the rate's worth of starts falls in any ``WINDOW_S``,
a margin for the moments between a decision and the request reaching the site, which vary by
process (the rate at saturation is about 5/6 of the configured one, never above it in any second).

A process that has to wait (the host's next start is another process's, or every place is taken)
leaves a *claim*: a row of ``host_requests`` whose holder starts with ``CLAIM_MARK``, with a short
expiry it renews each time it asks. The next batch goes to the earliest claim: a process that asks
while an earlier claim waits (a process renewing its batch has none) waits too, so the processes
take turns and none keeps the host while others wait. Cost: two small transactions per batch; at
the default rate a batch is one start, with politeness lifted one second's worth of them.

Only SQLAlchemy Core's public API; times are seconds since the epoch (one clock: processes of one
machine, or machines kept in time by NTP).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from service.store.schema import host_budgets, host_requests


@dataclass(frozen=True, slots=True)
class Grant:
    """The answer of ``reserve``: when ``token`` is set, a batch of ``starts`` starts from ``at``,
    ``spacing`` apart, with ``len(tokens)`` places in flight (``token`` is the first place's id);
    otherwise wait ``wait`` seconds and ask again (passing ``claim`` back), or give up when ``held``
    (a hold-off, with its end and reason)."""

    token: int | None
    wait: float = 0.0
    held_until: float | None = None
    reason: str = ""
    #: the moment of the decision, and of the batch's first start (epoch seconds)
    at: float = 0.0
    tokens: tuple[int, ...] = ()
    starts: int = 0
    spacing: float = 0.0
    #: the place this process claimed while waiting for one (its id), to pass to the next ``reserve``
    claim: int | None = None

    @property
    def end(self) -> float:
        """When the batch's starts are over (the host's earliest start after it)."""
        return self.at + self.starts * self.spacing


#: how soon to ask again when every place in flight is taken
FULL_POLL_S = 0.05
#: a waiting process's claim on a place lasts this long unless renewed (it asks every FULL_POLL_S)
CLAIM_S = 0.5
#: the holder of a claim row starts with this (a claim is a row of ``host_requests`` like a place)
CLAIM_MARK = "waiting "
#: no more than one second's worth of starts within this many seconds (the margin absorbs the
#: varying moments between a decision and the request reaching the site)
WINDOW_S = 1.2
#: at most this many starts in one batch
MAX_STARTS = 10_000
#: times closer than this are the same moment (sums of floats are not exact)
_EPSILON = 1e-6


def spacing(interval: float, crawl_delay: float) -> float:
    """Seconds between two starts to a host: the larger of ``interval`` and ``crawl_delay``, and at
    least ``WINDOW_S`` over the number of starts one second allows."""
    base = max(interval, crawl_delay)
    per_second = max(1, int(1.0 / base + 1e-9))
    return max(base, WINDOW_S / per_second)


def _ensure_row(conn: Connection, host: str) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"host": host, "next_start": 0.0, "crawl_delay": 0.0, "hold_until": 0.0, "hold_reason": ""}
    conn.execute(dialect.insert(host_budgets).values(values).on_conflict_do_nothing())


def _row(conn: Connection, host: str) -> Any:
    _ensure_row(conn, host)
    q = select(host_budgets).where(host_budgets.c.host == host)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).one()


def _keep_claim(conn: Connection, host: str, holder: str, claim: int | None, *, until: float) -> int:
    """This process's claim on the next free place, kept until ``until``: ``claim`` renewed (its
    place in the queue kept), or a new one when it has none or it expired; its id."""
    if claim is not None:
        kept = conn.execute(update(host_requests).where(host_requests.c.id == claim).values(expires_at=until))
        if kept.rowcount:
            return claim
    mark = {"host": host, "holder": f"{CLAIM_MARK}{holder}"[:100], "started_at": until - CLAIM_S,
            "expires_at": until}  # fmt: skip
    return int(conn.execute(insert(host_requests).values(mark).returning(host_requests.c.id)).scalar_one())


def reserve(
    conn: Connection,
    host: str,
    *,
    clock: Callable[[], float],
    interval: float,
    concurrency: int,
    holder: str,
    lease_s: float,
    span_s: float = 0.0,
    places: int = 1,
    claim: int | None = None,
) -> Grant:
    """Reserve a batch of starts to ``host`` beginning now, if the shared budget allows it: as many
    as fit in ``span_s`` (at least one), with up to ``places`` places in flight; each place expires
    ``lease_s`` after the batch's end unless ``finish`` ended it. ``claim``: the place this process
    claimed while it waited (from the last ``Grant``). ``clock`` is read once the host is locked, so
    "now" is the moment of the decision."""
    row = _row(conn, host)
    now = clock()
    mine = host_requests.c.host == host
    if row.hold_until > now:
        if claim is not None:
            conn.execute(delete(host_requests).where(host_requests.c.id == claim))
        return Grant(None, row.hold_until - now, row.hold_until, row.hold_reason)
    conn.execute(delete(host_requests).where(mine, or_(host_requests.c.expires_at.is_(None),
                                                       host_requests.c.expires_at < now)))  # fmt: skip
    if row.next_start > now + _EPSILON:
        wait = row.next_start - now
        return Grant(None, wait, claim=_keep_claim(conn, host, holder, claim, until=now + wait + CLAIM_S))
    waiting = host_requests.c.holder.startswith(CLAIM_MARK)
    ahead = select(func.count()).where(mine, waiting)
    if claim is not None:  # only the processes that began waiting earlier go first
        ahead = ahead.where(host_requests.c.id < claim)
    if conn.execute(ahead).scalar_one():
        return Grant(None, FULL_POLL_S, claim=_keep_claim(conn, host, holder, claim, until=now + CLAIM_S))
    busy = conn.execute(select(func.count()).where(mine, ~waiting)).scalar_one()
    step = spacing(interval, row.crawl_delay)
    starts = max(1, min(MAX_STARTS, int(span_s / step + 1e-9)))
    # no more places than starts: a batch of one start leaves the other places to other processes
    free = min(places, starts, concurrency - busy)
    if free <= 0:
        return Grant(None, FULL_POLL_S, claim=_keep_claim(conn, host, holder, claim, until=now + CLAIM_S))
    if claim is not None:
        conn.execute(delete(host_requests).where(host_requests.c.id == claim))
    end = now + starts * step
    conn.execute(update(host_budgets).where(host_budgets.c.host == host).values(next_start=end))
    place = {"host": host, "holder": holder, "started_at": now, "expires_at": end + lease_s}
    tokens = [
        int(conn.execute(insert(host_requests).values(place).returning(host_requests.c.id)).scalar_one())
        for _ in range(free)
    ]
    return Grant(tokens[0], at=now, tokens=tuple(tokens), starts=starts, spacing=step)


def finish(
    conn: Connection,
    host: str,
    tokens: Sequence[int],
    *,
    end: float | None = None,
    resume_at: float | None = None,
) -> None:
    """The batch holding places ``tokens`` is over: its places are free. With ``end`` (the batch's
    end) and ``resume_at`` (its last start sent plus the spacing, or its first start when none was
    sent), the starts it did not use go back to the host, unless another process reserved after it."""
    if tokens:
        conn.execute(delete(host_requests).where(host_requests.c.id.in_(list(tokens))))
    if end is None or resume_at is None or resume_at >= end:
        return
    conn.execute(
        update(host_budgets)
        .where(host_budgets.c.host == host, host_budgets.c.next_start.between(end - _EPSILON, end + _EPSILON))
        .values(next_start=resume_at)
    )


def release(conn: Connection, token: int) -> None:
    """The place ``token`` is free (one place of a batch, its starts left as they are)."""
    conn.execute(delete(host_requests).where(host_requests.c.id == token))


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
