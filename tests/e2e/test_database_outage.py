"""A database outage is the database's fault, never the URLs': SQLite's write lock held by another
process past the busy timeout, or PostgreSQL restarted, in the middle of a backfill or under the
daemon. No attempt is charged to a URL, the URLs in hand go back to the frontier at once, the run
ends "interrupted" with one line (no traceback), nothing stays "fetching" or "running", the exit
code says that not everything was archived, and a re-run finishes the job. The real ``jinshan``
commands as subprocesses, against the replica."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from service.settings import DatabaseSettings
from service.store.db import make_engine
from tests.e2e.conftest import Archiver, stop, wait_for, write_config
from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.test_crawl import assert_matches_truth
from tests.support.postgres import PostgresServer, create_database, free_port

pytestmark = pytest.mark.e2e

SINCE = "2026-10-01"
#: generous bounds on waits (a hang fails the test; none is a measure of speed)
PATIENCE_S = 90.0


def query(database_url: str, sql: str) -> list[Any]:
    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def articles_fetched(server: ReplicaServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith(".shtml"))


def stalled(server: ReplicaServer, quiet_s: float = 2.0) -> bool:
    """No request reached the site for ``quiet_s``: the crawl waits (here: on the database)."""
    before = len(server.requests)
    time.sleep(quiet_s)
    return len(server.requests) == before


def take_write_lock(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, tried every millisecond: SQLite's own busy handler sleeps longer and
    longer, and a busy crawl could keep winning the lock until it ends."""
    for _ in range(int(PATIENCE_S * 1000)):
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError:
            time.sleep(0.001)
    raise AssertionError("the write lock was never free")


def assert_the_database_was_blamed(done: subprocess.CompletedProcess[str], database_url: str) -> None:
    err = done.stderr
    assert done.returncode == 1, (done.returncode, err)  # some articles stored, not all
    for noise in ("Traceback", "unhandled exception", "unexpected failure", "Task exception"):
        assert noise not in err, err
    said = [line for line in err.splitlines() if "backfill interrupted" in line]
    assert len(said) == 1 and "database" in said[0], err
    assert [line for line in err.splitlines() if " ERROR " in line] == [], err
    # nothing left in flight, no attempt charged, the run closed
    assert query(database_url, "SELECT url FROM urls WHERE state = 'fetching'") == []
    assert query(database_url, "SELECT url, last_error FROM urls WHERE attempts > 0 OR state IN ('retry', 'failed')"
                               " OR last_error LIKE 'internal%'") == []  # fmt: skip
    runs = query(database_url, "SELECT kind, status FROM runs ORDER BY id")
    assert [status for _, status in runs] == ["interrupted"], runs


def rerun_finishes(archiver: Archiver, replica: Replica) -> None:
    again = archiver.run("backfill", "--since", SINCE)
    assert again.returncode == 0, again.stderr
    assert_matches_truth(archiver.export(), replica, since=date(2026, 10, 1))


def test_a_sqlite_write_lock_mid_backfill_is_the_databases_fault(
    tmp_path: Path, replica: Replica, server: ReplicaServer
) -> None:
    path = tmp_path / "archive.db"
    url = f"sqlite:///{path}"
    archiver = Archiver(write_config(tmp_path, server.base_url, url, fetch={"requests_per_second": 20.0},
                                     database={"busy_timeout_s": 1.0}), tmp_path)  # fmt: skip
    process = archiver.start("backfill", "--since", SINCE)
    holder = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        assert wait_for(lambda: articles_fetched(server) >= 10, timeout=PATIENCE_S)
        take_write_lock(holder)  # another process's writer, for longer than the busy timeout …
        assert process.poll() is None, "the backfill ended before the lock was taken"
        # … until the crawl gave up: no request for several busy timeouts (a write waits 1 s)
        assert wait_for(lambda: stalled(server, quiet_s=5.0), timeout=PATIENCE_S)
        holder.execute("ROLLBACK")
        out, err = process.communicate(timeout=PATIENCE_S)
    finally:
        holder.close()
        if process.poll() is None:
            process.kill()
    print(err)  # shown when the test fails
    assert_the_database_was_blamed(subprocess.CompletedProcess([], process.returncode, out, err), url)
    rerun_finishes(archiver, replica)


@pytest.mark.postgres
def test_a_postgresql_restart_mid_backfill_is_the_databases_fault(
    tmp_path: Path, replica: Replica, server: ReplicaServer, own_postgres: PostgresServer
) -> None:
    url = create_database(own_postgres.url)
    archiver = Archiver(
        write_config(tmp_path, server.base_url, url, fetch={"requests_per_second": 20.0}), tmp_path
    )
    process = archiver.start("backfill", "--since", SINCE)
    try:
        assert wait_for(lambda: articles_fetched(server) >= 10, timeout=PATIENCE_S)
        own_postgres.pause()  # an operator's restart: pg_ctl stop -m fast …
        assert wait_for(lambda: stalled(server), timeout=PATIENCE_S)
        own_postgres.resume()  # … pg_ctl start
        out, err = process.communicate(timeout=PATIENCE_S)
    finally:
        if process.poll() is None:
            process.kill()
    print(err)  # shown when the test fails
    assert_the_database_was_blamed(subprocess.CompletedProcess([], process.returncode, out, err), url)
    rerun_finishes(archiver, replica)


def health(port: int) -> str:
    import httpx

    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).text
    except httpx.HTTPError as exc:
        return repr(exc)


@pytest.mark.postgres
def test_the_daemon_hands_back_its_urls_as_soon_as_postgresql_returns(
    tmp_path: Path, server: ReplicaServer, own_postgres: PostgresServer
) -> None:
    url = create_database(own_postgres.url)
    port = free_port()
    # slow enough that URLs wait in the daemon's claims when the database goes; a lease lasts 87 s
    config = write_config(tmp_path, server.base_url, url, web={"listen": f"127.0.0.1:{port}"},
                          fetch={"requests_per_second": 4.0},
                          schedule={"poll_minutes": 0.05, "drain_seconds": 1.0})  # fmt: skip
    daemon = Archiver(config, tmp_path).start("run")
    before_pause: set[tuple[int, str]] = set()

    def held() -> set[tuple[int, str]]:
        return {
            (i, str(lease))
            for i, lease in query(url, "SELECT id, lease_until FROM urls WHERE state = 'fetching'")
        }

    try:
        assert wait_for(lambda: articles_fetched(server) >= 3 and bool(held()), timeout=PATIENCE_S)
        before_pause.update(held())
        own_postgres.pause()
        assert wait_for(lambda: "database unreachable" in health(port), timeout=PATIENCE_S), health(port)
        own_postgres.resume()
        # the URLs it held are handed back at once (or fetched), not when their leases end (87 s)
        assert wait_for(lambda: not (held() & before_pause), timeout=45), held() & before_pause
        before = articles_fetched(server)
        assert wait_for(lambda: articles_fetched(server) > before, timeout=PATIENCE_S), (
            "no fetch after the return"
        )
        assert (
            query(url, "SELECT count(*) FROM urls WHERE attempts > 0 OR last_error LIKE 'internal%'")[0][0]
            == 0
        )
    finally:
        code, _, err = stop(daemon, signal.SIGTERM, timeout=30)
        print(err)  # shown when the test fails
    assert code == 0, err
    assert "Traceback" not in err and "unhandled exception" not in err, err
    assert query(url, "SELECT id, kind FROM runs WHERE status = 'running'") == []
    assert query(url, "SELECT count(*) FROM urls WHERE state = 'fetching'")[0][0] == 0
