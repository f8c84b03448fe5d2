"""Leases of frontier URLs held by worker processes: which workers hold some, and handing back the
URLs of workers that are gone (a ``kill -9``), so a restart need not wait for their leases to expire.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Connection, select, update

from service.store.frontier import lease_values, park_dead_claims
from service.store.schema import state_is, urls


def leased_workers(conn: Connection) -> list[str]:
    """The workers that hold a lease on at least one URL."""
    q = select(urls.c.leased_by).where(state_is("fetching"), urls.c.leased_by.is_not(None)).distinct()
    return [w for w in conn.execute(q).scalars() if w]


def release_leases(
    conn: Connection, workers: Collection[str], *, now: datetime, max_attempts: int | None = None
) -> int:
    """Make the URLs leased by ``workers`` due at ``now`` again, in the caller's write transaction;
    how many.

    With ``max_attempts`` the workers are known dead (a kill -9, a crash): the claim each held
    counts as an attempt, and a URL that has had them all is parked "failed" with the reason.
    Without, the leases are handed back as they are (a clean stop)."""
    if not workers:
        return 0
    parked = (
        0
        if max_attempts is None
        else park_dead_claims(conn, now=now, max_attempts=max_attempts, workers=workers)
    )
    counted = 1 if max_attempts is not None else 0
    result = conn.execute(
        update(urls)
        .where(state_is("fetching"), urls.c.leased_by.in_(list(workers)))
        .values(lease_values("retry", due_at=now, leased_by=None, now=now, attempts_added=counted))
    )
    return parked + int(result.rowcount)
