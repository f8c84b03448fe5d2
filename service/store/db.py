"""Engines and migrations: the only place that knows how to open SQLite or PostgreSQL.

SQLite is the embedded default: WAL (readers never block the writer), a busy timeout (writers wait
for each other instead of failing), foreign keys on, all set on every new connection. Write
transactions on SQLite start with ``BEGIN IMMEDIATE`` (``write_options``): a deferred transaction
that reads first and writes later can fail with "database is locked" at once when another writer
committed in between, whatever the busy timeout. PostgreSQL is reached through psycopg 3.

``upgrade`` applies the Alembic migrations under ``migrations/`` programmatically. It is safe to
call from several processes at once: it holds an advisory lock (PostgreSQL) or the write lock
(SQLite) while it reads the current revision and migrates, so the second caller finds the schema at
head and does nothing.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

from service.errors import StoreError
from service.settings import DatabaseSettings, redact_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: the newest revision under ``migrations/`` (a test holds it to Alembic's answer): every process
#: start checks the schema against it with one SELECT, without importing Alembic (~70 ms)
HEAD_REVISION = "0010"
#: an arbitrary constant: the PostgreSQL advisory lock that serialises concurrent upgrades
_UPGRADE_LOCK = 0x4A494E5348414E  # "JINSHAN"
#: seconds a new PostgreSQL connection may take before the attempt fails
CONNECT_TIMEOUT_S = 10
#: execution option that makes the next SQLite transaction ``BEGIN IMMEDIATE``
IMMEDIATE = "jinshan_immediate"


def _json(value: Any) -> str:
    # Chinese text stays readable (and half the size) in the JSON columns
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _normalise_url(raw: str) -> URL:
    url = make_url(raw)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


def make_engine(
    database: DatabaseSettings, *, read_only: bool = False, clock: Callable[[], float] = time.monotonic
) -> Engine:
    """An engine for ``database.url``; SQLite gets WAL, busy_timeout and foreign keys per connection.

    A relative SQLite path is relative to the working directory; its folder is created. With
    ``read_only`` (the read commands) nothing is created: a SQLite file that is not there is an
    error, and an existing one is opened read-only (a copy on read-only media too). A PostgreSQL
    connection idle for ``PING_AFTER_IDLE_S`` (by ``clock``) is pinged before it is used again.
    Raises ``StoreError`` (with the password redacted) when the URL cannot be used.
    """
    try:
        url = _normalise_url(database.url)
        if url.get_backend_name() == "sqlite":
            if read_only and url.database and url.database != ":memory:":
                return _sqlite_reader(url, database)
            return _sqlite_engine(url, database)
        engine = create_engine(
            url,
            pool_size=database.pool_size,
            max_overflow=database.pool_size,
            connect_args=postgres_connect_args(database),
            json_serializer=_json,
        )
        _ping_when_idle(engine, clock)
        return engine
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"cannot open database {redact_url(database.url)}: {exc}") from exc


def postgres_connect_args(database: DatabaseSettings) -> dict[str, Any]:
    """psycopg's connection parameters (libpq's): an unreachable host fails in seconds, not after
    the kernel's TCP timeout; a statement that runs (or waits for a lock) longer than
    ``statement_timeout_s`` is cancelled by the server; with ``tcp_keepalives`` a server that
    vanished without closing the connection (a host that died, a dropped route) is noticed in
    about a minute instead of the kernel's two hours."""
    args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
    if database.statement_timeout_s > 0:
        args["options"] = f"-c statement_timeout={int(database.statement_timeout_s * 1000)}"
    if database.tcp_keepalives:
        args |= {"keepalives": 1, "keepalives_idle": KEEPALIVE_IDLE_S,
                 "keepalives_interval": KEEPALIVE_INTERVAL_S, "keepalives_count": KEEPALIVE_COUNT}  # fmt: skip
    return args


#: TCP keepalives of a PostgreSQL connection: first probe after this many idle seconds, then one
#: every interval; the connection is dropped after this many unanswered (about a minute in all)
KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT = 30, 10, 3


def probe(engine: Engine, *, lock_wait_s: float) -> Literal["ok", "locked", "unreachable"]:
    """Can the database be written now? "ok"; "locked" when SQLite's write lock stays held by
    another connection for ``lock_wait_s``; "unreachable" for any other failure. Takes and at once
    gives back the write lock on SQLite (``BEGIN IMMEDIATE``; reads are never blocked there, so a
    read would not see the lock), runs ``SELECT 1`` on PostgreSQL. Never raises."""
    try:
        conn = engine.raw_connection()
    except Exception:  # SQLAlchemy's error, or the driver's raised as it is by the pool's connect
        return "unreachable"
    try:
        state = _probe_on(conn, sqlite=is_sqlite(engine), lock_wait_s=lock_wait_s)
    except Exception:  # the driver's own error types (psycopg's, sqlite3's): any means "cannot"
        # discarded, not checked in: the pool's rollback on a dead connection would log a traceback
        conn.invalidate()
        return "unreachable"
    conn.close()
    return state


def _probe_on(conn: Any, *, sqlite: bool, lock_wait_s: float) -> Literal["ok", "locked"]:
    cur = conn.cursor()
    try:
        if not sqlite:
            cur.execute("SELECT 1")
            return "ok"
        busy = cur.execute("PRAGMA busy_timeout").fetchone()[0]
        cur.execute(f"PRAGMA busy_timeout={max(1, int(lock_wait_s * 1000))}")
        try:
            cur.execute("BEGIN IMMEDIATE")
            cur.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                return "locked"
            raise
        finally:
            cur.execute(f"PRAGMA busy_timeout={int(busy)}")
        return "ok"
    finally:
        cur.close()


#: seconds a pooled PostgreSQL connection may rest before it is pinged on its next checkout
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(engine: Engine, clock: Callable[[], float]) -> None:
    """``pool_pre_ping``, for connections that rested: one that died while idle (a restarted
    server, a dropped TCP connection) is replaced before use, but one checked in a moment ago is
    not pinged. The crawl checks a connection out per transaction, and the ping's round trip cost a
    tenth of the client's CPU per article. A connection that fails in use raises, as it did."""

    @event.listens_for(engine, "checkin")
    def _rested(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["checked_in_at"] = clock()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or clock() - since < PING_AFTER_IDLE_S:
            return  # new (just connected), or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection died while idle: {exc}") from exc


def _sqlite_reader(url: URL, database: DatabaseSettings) -> Engine:
    """An engine on an existing SQLite file that never creates it: the usual engine when the file
    and its folder are writable (search may index what is pending), else read-only, and
    ``immutable`` when even the WAL index cannot be opened (a read-only folder without the -shm
    file: nothing else writes there then)."""
    path = Path(url.database or "").expanduser().resolve()
    if not path.is_file():
        raise StoreError(
            f"no database at {path} (a relative [database] url is relative to the working directory):"
            " run `jinshan db upgrade` or the daemon to create one"
        )
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return _sqlite_engine(url, database, read_only=True)  # no WAL switch: a reader writes nothing
    for mode in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
        engine = _sqlite_engine(url.set(database=f"file:{path}", query={**mode, "uri": "true"}), database,
                                read_only=True)  # fmt: skip
        try:
            with engine.connect():
                return engine
        except SQLAlchemyError as exc:
            engine.dispose()
            error = exc
    raise StoreError(f"cannot open the database {path} read-only: {error}") from error


def _sqlite_engine(url: URL, database: DatabaseSettings, *, read_only: bool = False) -> Engine:
    if url.database and url.database != ":memory:" and not read_only:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": database.busy_timeout_s, "check_same_thread": False},
        json_serializer=_json,
    )
    busy_ms = int(database.busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # the driver's own transaction handling would BEGIN (deferred) behind our back
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        if not read_only:
            _enable_wal(cur, database.busy_timeout_s)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, much faster
        # negative: KiB. The hot index pages of a large archive stay in memory (database.sqlite_cache_mb)
        cur.execute(f"PRAGMA cache_size=-{database.sqlite_cache_mb * 1000}")
        cur.execute(
            "PRAGMA wal_autocheckpoint=4000"
        )  # 16 MB of WAL between checkpoints: hot pages written once
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(IMMEDIATE, False):
            _begin_immediate(conn.connection.driver_connection, busy_ms)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


#: the first and the longest pause between two tries for the write lock, in seconds
_LOCK_PAUSE = (0.00005, 0.002)


def _begin_immediate(dbapi_conn: Any, busy_ms: int) -> None:
    """``BEGIN IMMEDIATE``, waiting for the write lock in short pauses of our own.

    SQLite's busy handler sleeps 1, 2, 5, 10, … ms between tries: when two processes write in turns
    (the backfill's workers, the daemon beside a backfill) a writer kept sleeping milliseconds after
    the lock was free, a quarter of each worker's time. Here the handler is off for the BEGIN alone
    and the pauses start at 50 µs, doubling up to 2 ms, with jitter so two waiters do not retry in
    step; the busy timeout still bounds the whole wait.
    """
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA busy_timeout=0")
        deadline = time.monotonic() + busy_ms / 1000
        pause = _LOCK_PAUSE[0]
        while True:
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, _LOCK_PAUSE[1])
    finally:
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.close()


def _enable_wal(cur: Any, timeout_s: float) -> None:
    """Switch the file to WAL once (the mode is persistent). Switching needs an exclusive lock and
    SQLite may refuse it at once, without the busy handler, while another process holds the file
    (two processes creating the database together): so retry until the busy timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def write_options() -> dict[str, Any]:
    """Execution options for a connection that will write (SQLite: take the write lock at BEGIN)."""
    return {IMMEDIATE: True}


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this code, as Alembic reads the scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is this code's (``HEAD_REVISION``): nothing to migrate."""
    return current_revision(engine) == HEAD_REVISION


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; idempotent; safe when several processes call it at once.

    Raises ``StoreError`` when a migration fails (the transaction is rolled back).
    """
    from alembic import command

    _migrate(engine, command.upgrade, revision, "upgrade")


def downgrade(engine: Engine, revision: str) -> None:
    """Undo migrations down to ``revision`` (an upgrade of older code's database, in reverse)."""
    from alembic import command

    _migrate(engine, command.downgrade, revision, "downgrade")


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str, what: str) -> None:
    cfg = _alembic_config()
    try:
        with engine.connect() as conn:
            conn.execution_options(**write_options())
            with conn.begin():
                if not is_sqlite(conn):
                    # a migration may rewrite a large table: ``database.statement_timeout_s`` is
                    # for the crawl's statements, not for this one
                    conn.execute(text("SET LOCAL statement_timeout = 0"))
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _UPGRADE_LOCK})
                cfg.attributes["connection"] = conn
                step(cfg, revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"database {what} failed on {redact_url(str(engine.url))}: {exc}") from exc
