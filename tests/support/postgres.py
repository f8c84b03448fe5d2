"""A throwaway PostgreSQL server for tests: the ``postgres_url`` and ``postgres_db_url`` fixtures.

``postgres_url`` (session scope) is the URL of a server we may create databases on:

1. ``$JINSHAN_TEST_POSTGRES_URL`` when set (a server someone else runs);
2. otherwise a server started here from the binaries under ``/usr/lib/postgresql/*/bin``: initdb
   into a temporary directory, as the unprivileged user ``postgres`` when we are root (created if
   missing), listening on 127.0.0.1 on a free port, trust authentication, fsync off; stopped and
   deleted when the session ends;
3. no binaries: the test is skipped with a reason, unless ``$JINSHAN_TEST_REQUIRE_POSTGRES=1``
   (CI), where it fails.

Under pytest-xdist each worker starts its own server (start-up is about a second), so workers never
share state. ``postgres_db_url`` (function scope) creates a fresh, empty database per test.

Use it from a conftest: ``from tests.support.postgres import postgres_url, postgres_db_url``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_URL = "JINSHAN_TEST_POSTGRES_URL"
ENV_REQUIRE = "JINSHAN_TEST_REQUIRE_POSTGRES"
PG_USER = "postgres"
START_TIMEOUT_S = 60


def find_bindir() -> Path | None:
    """The newest PostgreSQL bin directory with initdb and pg_ctl, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key, reverse=True)
    for initdb in candidates:
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _version_key(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_user_prefix() -> list[str]:
    """Command prefix that drops root to the postgres user (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_USER], check=True)
    return ["runuser", "-u", PG_USER, "--"]


class PostgresServer:
    """One server in its own temporary directory; ``start`` then ``stop`` (which deletes it all)."""

    def __init__(self, bindir: Path, *, settings: dict[str, str] | None = None) -> None:
        self.bindir = bindir
        #: extra server settings (``-c name=value``), e.g. shared_buffers for a benchmark
        self.settings = settings or {}
        self.root = Path(tempfile.mkdtemp(prefix="jinshan-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.prefix = _as_user_prefix()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self.prefix, *args], capture_output=True, text=True, timeout=START_TIMEOUT_S)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed ({proc.returncode}): {proc.stderr or proc.stdout}"
            )

    def start(self) -> None:
        if self.prefix:
            shutil.chown(self.root, user=PG_USER)
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            PG_USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.resume()

    def _options(self) -> str:
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
        )
        return opts + "".join(f" -c {k}={v}" for k, v in self.settings.items())

    def resume(self) -> None:
        """Start the server on its data directory (after ``start``, or again after ``pause``)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", self._options(), "-l",
                  str(self.root / "server.log"), "-w", "-t", str(START_TIMEOUT_S), "start")  # fmt: skip

    def pause(self) -> None:
        """Stop the server as an operator's restart does (``pg_ctl stop -m fast``), keeping its data."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster's pid and its children's (the backends), as ``/proc`` lists them now."""
        master = int((self.data / "postmaster.pid").read_text().split()[0])
        pids = [master]
        for status in Path("/proc").glob("[0-9]*/status"):
            with contextlib.suppress(OSError):
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
                if int(fields.get("PPid", "0").strip()) == master:
                    pids.append(int(status.parent.name))
        return pids

    def freeze(self) -> None:
        """SIGSTOP the server and its backends: a hung server (the kernel still answers TCP, nothing
        else does). ``thaw`` undoes it."""
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def stop(self) -> None:
        # it may never have started; the directory goes either way
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    if os.environ.get(ENV_REQUIRE) == "1":
        pytest.fail(f"PostgreSQL is required ({ENV_REQUIRE}=1) but {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set {ENV_URL} or install postgresql)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL server on which tests may create databases (see the module docstring)."""
    if url := os.environ.get(ENV_URL):
        yield url
        return
    bindir = find_bindir()
    if bindir is None:
        _unavailable("no initdb/pg_ctl found under /usr/lib/postgresql/*/bin or on PATH")
    assert bindir is not None
    server = PostgresServer(bindir)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        _unavailable(f"the server could not be started: {exc}")
    try:
        yield server.url
    finally:
        server.stop()


def _admin(url: str, sql: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conninfo = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def create_database(server_url: str, name: str | None = None, *, template: str = "template0") -> str:
    """Create a database on the server, empty or a copy of the database ``template`` (which nobody
    may be connected to); returns its URL."""
    from sqlalchemy.engine import make_url

    name = name or f"t_{uuid.uuid4().hex[:12]}"
    import psycopg

    try:  # FILE_COPY (PostgreSQL 15+) is much faster for small databases
        _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
    except psycopg.errors.SyntaxError:
        _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, db_url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(db_url).database
    _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture()
def postgres_db_url(postgres_url: str) -> Iterator[str]:
    """A fresh empty database for one test, dropped afterwards."""
    url = create_database(postgres_url)
    try:
        yield url
    finally:
        drop_database(postgres_url, url)
