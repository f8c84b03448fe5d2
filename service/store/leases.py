"""Leases of frontier URLs held by worker processes: which workers hold some, and handing back the
URLs of workers that are gone (a ``kill -9``), so a restart need not wait for their leases to expire.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Engine, select, update

from service.store.schema import urls
from service.store.sql import retrying, utcnow


def leased_workers(engine: Engine) -> list[str]:
    """The workers that hold a lease on at least one URL."""
    with engine.connect() as conn:
        q = (
            select(urls.c.leased_by)
            .where(urls.c.state == "fetching", urls.c.leased_by.is_not(None))
            .distinct()
        )
        return [w for w in conn.execute(q).scalars() if w]


def release_leases(engine: Engine, workers: Collection[str]) -> int:
    """Make the URLs leased by ``workers`` due now again; how many."""
    if not workers:
        return 0
    now = utcnow()

    def work(conn: object) -> int:
        result = conn.execute(  # type: ignore[attr-defined]
            update(urls)
            .where(urls.c.state == "fetching", urls.c.leased_by.in_(list(workers)))
            .values(state="retry", due_at=now, lease_until=None, leased_by=None, updated_at=now)
        )
        return int(result.rowcount)

    return retrying(engine, work, what="release_leases")
