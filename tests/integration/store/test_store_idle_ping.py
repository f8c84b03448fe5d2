"""PostgreSQL connections are pinged before use only after resting (``db.PING_AFTER_IDLE_S``): one
that died while idle is replaced, one checked in a moment ago is used without a round trip."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from service.settings import DatabaseSettings
from service.store import db

pytestmark = pytest.mark.postgres


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _kill(url: str, pid: int) -> None:
    other = db.make_engine(DatabaseSettings(url=url))
    try:
        with other.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})").scalar_one()
    finally:
        other.dispose()


def test_a_connection_that_died_while_idle_is_replaced(postgres_db_url: str) -> None:
    clock = Clock()
    engine = db.make_engine(DatabaseSettings(url=postgres_db_url, pool_size=1), clock=clock)
    try:
        first = _backend(engine)
        _kill(postgres_db_url, first)
        clock.now += db.PING_AFTER_IDLE_S
        assert _backend(engine) != first  # pinged, found dead, replaced: no error reaches the caller
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(postgres_db_url: str) -> None:
    clock = Clock()
    engine = db.make_engine(DatabaseSettings(url=postgres_db_url, pool_size=1), clock=clock)
    pings: list[object] = []
    real = engine.dialect.do_ping

    def counted(conn: object) -> bool:
        pings.append(conn)
        return real(conn)

    engine.dialect.do_ping = counted  # type: ignore[method-assign]
    try:
        first = _backend(engine)
        clock.now += db.PING_AFTER_IDLE_S / 2
        assert _backend(engine) == first and pings == []
        clock.now += db.PING_AFTER_IDLE_S
        assert _backend(engine) == first and len(pings) == 1
    finally:
        engine.dispose()
