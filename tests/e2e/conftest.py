"""End-to-end fixtures: a replica of the site on 127.0.0.1, a config pointing at it, the real
``jinshan`` commands as subprocesses, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.replica.settings import toml
from tests.support.postgres import PostgresServer, find_bindir, postgres_db_url, postgres_url

if TYPE_CHECKING:
    from tests.e2e.webarchive import WebArchive

__all__ = ["postgres_db_url", "postgres_url"]

ROOT = Path(__file__).resolve().parents[2]
#: every command is bounded: a hang fails the test instead of blocking CI
COMMAND_TIMEOUT_S = 120


@dataclass
class Archiver:
    """The real command line against one database and one replica."""

    config: Path
    tmp: Path

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "service", *args, "--config", str(self.config)]

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args), capture_output=True, text=True, timeout=timeout, cwd=self.tmp, env=_env()
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=self.tmp, env=_env())  # fmt: skip

    def run_here(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The same command line, run by ``main()`` in this process (see ``run_in_process``)."""
        return run_in_process([*args, "--config", str(self.config)], cwd=self.tmp)

    def export(self) -> list[dict[str, Any]]:
        """The archive as ``jinshan export`` prints it (in this process: tests read it often)."""
        done = self.run_here("export", "--format", "jsonl")
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def run_in_process(args: list[str], *, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``jinshan ARGS`` by its ``main()`` in this process, as a subprocess would run it: from ``cwd``,
    without the developer's ``JINSHAN_*`` variables, stdout and stderr captured, the exit code from
    ``SystemExit``. What a process would leave behind (logging handlers, signal handlers, the masked
    secrets) is put back. It saves the interpreter's start and imports (about a second of CPU each):
    for the commands that read the archive, for the backfills that only set a test up, and for
    checks of messages and exit codes that every command also has a test of as a real subprocess."""
    import contextlib
    import io
    import logging

    from service.app import cli
    from service.settings import register_secrets

    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    signals = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    environ = {k: v for k, v in os.environ.items() if k.startswith("JINSHAN_")}
    argv, here = sys.argv, os.getcwd()
    code: int = 0
    try:
        for key in environ:
            del os.environ[key]
        os.chdir(cwd)
        sys.argv = ["jinshan", *args]
        register_secrets("")  # a fresh process knows no password yet
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
        os.chdir(here)
        os.environ.update(environ)
        root.handlers[:] = handlers
        root.setLevel(level)
        for sig, handler in signals.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(["jinshan", *args], code, out.getvalue(), err.getvalue())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_db_url"))


@pytest.fixture()
def replica() -> Replica:
    return Replica(seed=11, n_articles=120, days=30, epaper_days=3, epaper_pages=3, old_articles=3)


@pytest.fixture()
def server(replica: Replica) -> Iterator[ReplicaServer]:
    with ReplicaServer(replica) as srv:
        yield srv


@pytest.fixture(scope="session")
def web_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebArchive]:
    """An archive the replica filled and ``jinshan serve`` on it (tests/e2e/webarchive.py), built
    once for the web view's tests over HTTP and in the browser (one xdist group)."""
    from tests.e2e.webarchive import start

    tmp = tmp_path_factory.mktemp("web")
    yield from start(tmp, f"sqlite:///{tmp / 'archive.db'}")


def write_config(tmp: Path, base_url: str, database_url: str, **sections: dict[str, Any]) -> Path:
    """A config for the replica with politeness lifted and quick retries; ``sections`` override."""
    extra: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        # resources (photos, stylesheets) double the requests of a crawl: the tests of captures
        # (test_captures*.py, the web view's archive) ask for them, the others keep their timing
        "archive": {"path": str(tmp / "warc"), "resources": "off"},
        "fetch": {"requests_per_second": 500.0, "concurrency": 4, "timeout_s": 3.0, "connect_timeout_s": 2.0,
                  "retries": 2, "backoff_base_s": 0.05, "backoff_max_s": 0.5, "retry_after_s": 1.0},
        "web": {"listen": ""},
        "log": {"level": "INFO"},
    }  # fmt: skip
    for name, values in sections.items():
        extra.setdefault(name, {}).update(values)
    path = tmp / "jinshan.toml"
    path.write_text(toml(base_url, extra), encoding="utf-8")
    return path


@pytest.fixture()
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone, which the test may stop, freeze or restart under the
    daemon or a crawl (the shared server must stay up for the others)."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL tests skipped: no initdb/pg_ctl found")
    pg = PostgresServer(bindir)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()


@pytest.fixture()
def archiver(tmp_path: Path, server: ReplicaServer, database_url: str) -> Archiver:
    return Archiver(write_config(tmp_path, server.base_url, database_url), tmp_path)


def stop(
    process: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 15
) -> tuple[int, float, str]:
    """Send ``sig``; the exit code, the seconds it took to exit, and stderr."""
    started = time.monotonic()
    process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
        return -999, time.monotonic() - started, err
    return process.returncode, time.monotonic() - started, err


def wait_for(predicate: Any, *, timeout: float, every: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def due_times(database_url: str, urls: list[str]) -> dict[str, datetime | None]:
    """When the frontier will next fetch each of ``urls`` (``urls.due_at``), read from the database."""
    from sqlalchemy import select

    from service.settings import DatabaseSettings
    from service.store.db import make_engine
    from service.store.schema import urls as table

    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(table.c.url, table.c.due_at).where(table.c.url.in_(urls))).all()
    finally:
        engine.dispose()
    return {url: due for url, due in rows}


def make_due(database_url: str, urls: list[str], at: datetime) -> None:
    """Move the next fetch of ``urls`` to ``at``: the hours until a revisit passed, without waiting
    for them (the daemon's clock is the machine's; the due times are data)."""
    from sqlalchemy import update

    from service.settings import DatabaseSettings
    from service.store.db import make_engine
    from service.store.schema import urls as table

    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.begin() as conn:
            conn.execute(update(table).where(table.c.url.in_(urls)).values(due_at=at))
    finally:
        engine.dispose()
