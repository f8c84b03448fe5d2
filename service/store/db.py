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
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from service.errors import FILL_ADVICE, NoArchiveError, StoreError
from service.settings import DatabaseSettings, redact_url
from service.store.sql import store_error

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: the newest revision under ``migrations/`` (a test holds it to Alembic's answer): every process
#: start checks the schema against it with one SELECT, without importing Alembic (~70 ms)
HEAD_REVISION = "0013_people"
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


def make_engine(database: DatabaseSettings, *, read_only: bool = False) -> Engine:
    """An engine for ``database.url``; SQLite gets WAL, busy_timeout and foreign keys per connection.

    A relative SQLite path is relative to the working directory; its folder is created. With
    ``read_only`` (the read commands) nothing is created: a SQLite file that is not there is an
    error, and an existing one is opened read-only (a copy on read-only media too). A pooled
    PostgreSQL connection is pinged before each use (``pool_pre_ping``): one that died while idle
    (a restarted server, a dropped TCP connection) is replaced instead of failing the work.
    Raises ``StoreError`` (with the password redacted) when the URL cannot be used.
    """
    try:
        url = _normalise_url(database.url)
        if url.get_backend_name() == "sqlite":
            if read_only and url.database and url.database != ":memory:":
                return _sqlite_reader(url, database)
            return _sqlite_engine(url, database)
        return create_engine(
            url,
            pool_size=database.pool_size,
            max_overflow=database.pool_size,
            pool_pre_ping=True,
            connect_args=postgres_connect_args(database),
            json_serializer=_json,
        )
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


def _sqlite_reader(url: URL, database: DatabaseSettings) -> Engine:
    """An engine on an existing SQLite file that never creates it: the usual engine when the file
    and its folder are writable (search may index what is pending), else read-only, and
    ``immutable`` when even the WAL index cannot be opened (a read-only folder without the -shm
    file: nothing else writes there then)."""
    path = Path(url.database or "").expanduser().resolve()
    if not path.is_file():
        raise NoArchiveError(
            f"no database at {path} (a relative [database] url is relative to the working directory):"
            f" {FILL_ADVICE}"
        )
    if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
        return _sqlite_engine(url, database, reader=True)  # no WAL switch: a reader writes nothing
    for mode in ({"mode": "ro"}, {"mode": "ro", "immutable": "1"}):
        engine = _sqlite_engine(url.set(database=f"file:{path}", query={**mode, "uri": "true"}), database,
                                reader=True, read_only=True)  # fmt: skip
        try:
            with engine.connect():
                return engine
        except SQLAlchemyError as exc:
            engine.dispose()
            error = exc
    raise store_error(error, f"cannot open the database {path} read-only") from error


def _sqlite_engine(
    url: URL, database: DatabaseSettings, *, reader: bool = False, read_only: bool = False
) -> Engine:
    """``reader``: the file exists and is left in its journal mode; ``read_only``: it is opened so
    (``mode=ro``), and its connections say so (``PRAGMA query_only``)."""
    if url.database and url.database != ":memory:" and not reader:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # a URL that opens the file read-only itself (``?mode=ro`` or ``immutable``) says so too
    read_only = read_only or url.query.get("mode") == "ro" or url.query.get("immutable") == "1"
    engine = create_engine(
        url,
        connect_args={"timeout": database.busy_timeout_s, "check_same_thread": False},
        json_serializer=_json,
    )
    busy_ms = int(database.busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy's recipe for SQLite transactions: the driver's own handling would BEGIN
        # (deferred) behind our back; the "begin" event below emits the BEGIN instead
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        if read_only:  # the database then answers ``PRAGMA query_only`` truthfully (``is_read_only``)
            cur.execute("PRAGMA query_only=ON")
        if not reader:
            _enable_wal(cur)
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
        # a writer takes the write lock at BEGIN, waiting for it up to the busy timeout (SQLite's
        # busy handler); a reader's deferred BEGIN takes no lock
        immediate = conn.get_execution_options().get(IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


#: tries to switch a new file to WAL (each waits up to the busy timeout)
_WAL_TRIES = 3


def _enable_wal(cur: Any) -> None:
    """Switch the file to WAL once (the mode is persistent). The switch needs an exclusive lock:
    SQLite waits for it up to the busy timeout, but may refuse at once (without waiting) when two
    processes create the database together, so it is tried again a few times. Should every try be
    refused, the file stays in its mode for this connection: the other process is switching it,
    and the next connection finds WAL."""
    for attempt in range(1, _WAL_TRIES + 1):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (_SQLITE_BUSY, _SQLITE_LOCKED):
                raise
            if attempt == _WAL_TRIES:
                log.warning("SQLite: could not switch the file to WAL yet (%s); a later connection will", exc)


#: SQLite's primary result codes for "another connection holds the lock"
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def is_read_only(conn: Connection) -> bool:
    """Whether the database only allows reading, as the database says: ``PRAGMA query_only`` on
    SQLite (set on the connections of a file opened read-only), ``transaction_read_only`` on
    PostgreSQL (a hot standby, ``default_transaction_read_only``)."""
    if is_sqlite(conn):
        return bool(conn.exec_driver_sql("PRAGMA query_only").scalar())
    return str(conn.exec_driver_sql("SHOW transaction_read_only").scalar()).lower() == "on"


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


def newer_than_code(revision: str | None) -> bool:
    """Whether ``revision`` is one this code does not ship: the database was migrated by a newer
    release (Alembic cannot go from there, up or down). Reads the migration scripts: only asked when
    the database is not at ``HEAD_REVISION``."""
    if revision is None or revision == HEAD_REVISION:
        return False
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is None
    except CommandError:
        return True


def newer_schema_error(revision: str, where: str) -> StoreError:
    return StoreError(
        f"the database {where} was created by a newer release of jinshan (schema {revision}; this one"
        f" knows up to {HEAD_REVISION}): run that release or a newer one; `jinshan db upgrade` cannot"
        " take a schema back"
    )


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is this code's (``HEAD_REVISION``): nothing to migrate."""
    return current_revision(engine) == HEAD_REVISION


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``; idempotent; safe when several processes call it at once.

    Raises ``StoreError`` when a migration fails (the transaction is rolled back).
    """
    from alembic import command

    current = current_revision(engine)
    if newer_than_code(current):
        raise newer_schema_error(str(current), redact_url(str(engine.url)))
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
        raise store_error(exc, f"database {what} failed on {redact_url(str(engine.url))}") from exc
