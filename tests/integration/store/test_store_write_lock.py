"""SQLite's write lock: a writer waits for another process's transaction (SQLite's busy handler,
``BEGIN IMMEDIATE``), gets the lock once it is free, and gives up after the busy timeout; a ``Store``
then says the database is locked (``DatabaseLocked``: the database's fault, not the data's)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from service.errors import DatabaseLocked, DatabaseUnavailable
from service.settings import DatabaseSettings, DedupSettings
from service.store import db
from service.store.repo import Store
from service.store.types import NewUrl
from tests.integration.store.builders import SEEN


class Holder(threading.Thread):
    """Another writer (a plain sqlite3 connection, as another process would be) holding the lock
    from ``held`` until ``release`` is set (or ``hold_s`` passed); ``released_at`` is when it let go."""

    def __init__(self, path: Path, hold_s: float) -> None:
        super().__init__()
        self.path, self.hold_s = path, hold_s
        self.held, self.release = threading.Event(), threading.Event()
        self.released_at = float("inf")

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        self.held.set()
        self.release.wait(self.hold_s)
        self.released_at = time.monotonic()
        conn.execute("COMMIT")
        conn.close()


def _engine(tmp_path: Path, busy_timeout_s: float) -> Engine:
    engine = db.make_engine(
        DatabaseSettings(url=f"sqlite:///{tmp_path / 'lock.db'}", busy_timeout_s=busy_timeout_s)
    )
    db.upgrade(engine)
    return engine


def test_a_writer_gets_the_lock_soon_after_it_is_freed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, busy_timeout_s=30)
    holder = Holder(tmp_path / "lock.db", 0.3)
    holder.start()
    assert holder.held.wait(30)
    with engine.connect() as conn:
        conn.execution_options(**db.write_options())
        with conn.begin():
            got_at = time.monotonic()
            conn.execute(text("INSERT INTO people (name) VALUES ('x')"))
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    holder.join()
    assert got_at >= holder.released_at  # it waited for the holder, then went on (no failure, no hang)


def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    engine = _engine(tmp_path, busy_timeout_s=0.2)
    holder = Holder(tmp_path / "lock.db", 60)
    holder.start()
    assert holder.held.wait(30)
    start = time.monotonic()
    try:
        with pytest.raises(Exception, match="locked"), engine.connect() as conn:
            conn.execution_options(**db.write_options())
            conn.begin()
        gave_up_at = time.monotonic()
    finally:
        holder.release.set()
        holder.join()
    # it waited its busy timeout, and gave up while the lock was still held
    assert gave_up_at - start >= 0.15 and gave_up_at < holder.released_at


def test_a_store_that_cannot_get_the_lock_says_the_database_is_locked(tmp_path: Path) -> None:
    engine = _engine(tmp_path, busy_timeout_s=0.2)
    holder = Holder(tmp_path / "lock.db", 60)
    holder.start()
    assert holder.held.wait(30)
    try:
        with Store(engine, DedupSettings()) as store:
            with pytest.raises(DatabaseLocked, match="add_urls") as caught:
                store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1.shtml", "article", None, SEEN)])
            assert isinstance(caught.value, DatabaseUnavailable)  # the crawl: not the URL's fault
            assert "\n" not in str(caught.value)
            holder.release.set()
            holder.join()
            assert store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1.shtml", "article", None, SEEN)]) == 1
    finally:
        holder.release.set()
        holder.join()
