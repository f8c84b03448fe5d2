"""SQLite's write lock: a writer waits for another process's transaction in pauses of its own, gets
the lock once it is free, restores the busy timeout, and gives up after the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from service.config import DatabaseSettings
from service.store import db


def _holder(path: Path, hold_s: float, held: threading.Event) -> None:
    """Another writer (a plain sqlite3 connection, as another process would be) holding the lock."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(hold_s)
    conn.execute("COMMIT")
    conn.close()


def _engine(tmp_path: Path, busy_timeout_s: float) -> Engine:
    engine = db.make_engine(
        DatabaseSettings(url=f"sqlite:///{tmp_path / 'lock.db'}", busy_timeout_s=busy_timeout_s)
    )
    db.upgrade(engine)
    return engine


def test_a_writer_gets_the_lock_soon_after_it_is_freed(tmp_path: Path) -> None:
    engine = _engine(tmp_path, busy_timeout_s=5)
    held = threading.Event()
    holder = threading.Thread(target=_holder, args=(tmp_path / "lock.db", 0.3, held))
    holder.start()
    held.wait(5)
    start = time.monotonic()
    with engine.connect() as conn:
        conn.execution_options(**db.write_options())
        with conn.begin():
            waited = time.monotonic() - start
            conn.execute(text("INSERT INTO search_pending (article_id) VALUES (1)"))
        # the busy timeout of the connection is back for everything after the BEGIN
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    holder.join()
    assert 0.25 <= waited < 3  # it waited for the holder, then went on (no failure, no hang)


def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    engine = _engine(tmp_path, busy_timeout_s=0.2)
    held = threading.Event()
    holder = threading.Thread(target=_holder, args=(tmp_path / "lock.db", 1.0, held))
    holder.start()
    held.wait(5)
    start = time.monotonic()
    with pytest.raises(Exception, match="locked"), engine.connect() as conn:
        conn.execution_options(**db.write_options())
        conn.begin()
    assert 0.15 <= time.monotonic() - start < 0.9
    holder.join()
