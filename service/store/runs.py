"""Runs: one row per daemon cycle or backfill, with its parameters, counters and outcome.

Counters are merged key by key (a caller may report only what changed); the quality alarm and
``jinshan stats`` read them back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from service.store.schema import runs

RUN_STATUSES = ("running", "ok", "failed", "interrupted")


def start(conn: Connection, kind: str, params: dict[str, Any], now: datetime) -> int:
    result = conn.execute(
        insert(runs)
        .values(kind=kind, status="running", params=params, counters={}, started_at=now, updated_at=now)
        .returning(runs.c.id)
    )
    return int(result.scalar_one())


def update_counters(
    conn: Connection,
    run_id: int,
    counters: dict[str, int],
    now: datetime,
    *,
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> None:
    """Merge ``counters`` (and ``params``, key by key) into the run; ``extra`` columns are set."""
    row = conn.execute(select(runs.c.counters, runs.c.params).where(runs.c.id == run_id)).first()
    if row is None:
        raise KeyError(f"no run with id {run_id}")
    current = row.counters
    if params:
        extra["params"] = {**(row.params or {}), **params}
    merged = {**current, **{k: int(v) for k, v in counters.items()}}
    conn.execute(update(runs).where(runs.c.id == run_id).values(counters=merged, updated_at=now, **extra))


def last(conn: Connection, n: int = 5, *, kind: str | None = None) -> list[dict[str, Any]]:
    """The ``n`` most recent runs (of ``kind`` when given), newest first, as plain dicts with ISO
    times."""
    q = select(runs).order_by(runs.c.id.desc()).limit(n)
    rows = conn.execute(q if kind is None else q.where(runs.c.kind == kind)).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        for key in ("started_at", "updated_at", "finished_at"):
            d[key] = d[key].isoformat() if d[key] else None
        out.append(d)
    return out


def last_success(conn: Connection, kind: str) -> datetime | None:
    """When the last run of ``kind`` that ended "ok" finished; None when none did."""
    q = select(func.max(runs.c.finished_at)).where(runs.c.kind == kind, runs.c.status == "ok")
    value: datetime | None = conn.execute(q).scalar()
    return value
