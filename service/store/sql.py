"""Small SQL helpers shared by the store modules: dialect-neutral "insert or ignore", the plan of a
statement, and the one translation of database errors into ``StoreError`` and its subclasses.

Every write of the store is an upsert that tolerates a concurrent writer: ``insert_ignore`` uses
``INSERT … ON CONFLICT DO NOTHING`` on both databases, and ``Store`` reruns a whole transaction
when a unique constraint fired between our read and our write (``rerun``: another process won the
race; the rerun finds its row).

Statements are Core constructs built once (module constants, or cached per shape) and run with
``Connection.execute``: SQLAlchemy's compiled cache then compiles each shape once per engine. Many
rows go in one ``execute`` with a list of parameter sets: SQLAlchemy's "insertmanyvalues" sends
them as multi-row INSERTs (with their RETURNING rows) where the driver allows it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Executable, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.errors import DatabaseLocked, DatabaseUnavailable, ReadOnlyDatabase, StoreError

T = TypeVar("T")


class Conflict(Exception):
    """Raised inside a transaction when a row we meant to create appeared meanwhile: rerun it."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Refuse naive datetimes early, with the caller in the traceback."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC or +08:00)")
    return value


# --- insert or ignore ---------------------------------------------------------------------------


@functools.cache
def _insert_ignore_stmt(dialect: str, table: Table, returning: tuple[str, ...]) -> Executable:
    """``INSERT … ON CONFLICT DO NOTHING`` into ``table`` returning ``returning``: one construct per
    shape, built once (its columns are those of the parameters it is executed with)."""
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    stmt = ins.on_conflict_do_nothing()
    return stmt.returning(*(table.c[c] for c in returning)) if returning else stmt


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> int | None:
    """Insert a row unless any unique constraint already holds it; the new ``id``, or None (also
    for a table without an ``id`` column)."""
    returning = ("id",) if "id" in table.c else ()
    result = conn.execute(_insert_ignore_stmt(conn.dialect.name, table, returning), dict(values))
    if not returning:
        return None
    new_id = result.scalar()
    return None if new_id is None else int(new_id)


def insert_ignore_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, returning: bool = False
) -> list[int]:
    """``insert_ignore`` for many rows; with ``returning``, the ids of the rows it created
    (skipped rows give none), else []."""
    return [int(r[0]) for r in insert_ignore_rows(conn, table, rows, returning=("id",) if returning else ())]


def insert_ignore_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, returning: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """``insert_ignore`` of many rows (each with the same columns) in one ``execute``; the
    ``returning`` columns of the rows it created. SQLAlchemy batches the rows into multi-row
    INSERTs ("insertmanyvalues"): one round trip per batch, where psycopg's own ``executemany``
    would send a statement per row."""
    if not rows:
        return []
    result = conn.execute(_insert_ignore_stmt(conn.dialect.name, table, returning), [dict(r) for r in rows])
    return [tuple(r) for r in result] if returning else []


# --- plans ----------------------------------------------------------------------------------------


def explain(conn: Connection, statement: Executable, params: Mapping[str, Any] | None = None) -> list[str]:
    """The plan the database chooses for ``statement``, one line per step (``EXPLAIN QUERY PLAN``
    on SQLite, ``EXPLAIN`` on PostgreSQL): what the plan tests and the frontier benchmark read. The
    statement is compiled and sent as it always is, prefixed on its way to the driver (a
    ``before_cursor_execute`` listener on ``conn`` alone), so an UPDATE is explained as sent."""
    prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "

    def prefixed(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_: Any) -> tuple[str, Any]:
        return prefix + sql, parameters

    if not conn.in_transaction():
        conn.begin()  # first: SQLite's BEGIN (the "begin" event) must not pass the listener below
    event.listen(conn, "before_cursor_execute", prefixed, retval=True)
    try:
        rows = conn.execute(statement, dict(params or {})).all()
    finally:
        event.remove(conn, "before_cursor_execute", prefixed)
    return [str(r[-1]) for r in rows]


# --- errors ---------------------------------------------------------------------------------------

# SQLite's result codes (``sqlite3.Error.sqlite_errorcode``: the primary code is its low byte)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 5, 6, 8
_SQLITE_UNAVAILABLE = frozenset({10, 13, 14})  # IOERR, FULL, CANTOPEN
_SQLITE_UNIQUE = frozenset({1555, 2067})  # extended: CONSTRAINT_PRIMARYKEY, CONSTRAINT_UNIQUE
# PostgreSQL's SQLSTATEs (``psycopg.Error.sqlstate``)
_PG_UNIQUE = "23505"  # unique_violation
_PG_RERUN = frozenset({"40001", "40P01"})  # serialization failure, deadlock: rerun at once
_PG_LOCKED = frozenset({"55P03", "57014"})  # lock_not_available, query_canceled (statement_timeout)
_PG_READ_ONLY = frozenset({"25006"})  # read_only_sql_transaction
# admin shutdown, crash shutdown, cannot connect now, too many connections, disk full
_PG_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300", "53100"})


def _sqlite_code(exc: SQLAlchemyError) -> int | None:
    """SQLite's extended result code of ``exc``, if SQLite raised it."""
    code = getattr(exc.orig if isinstance(exc, DBAPIError) else None, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


def _sqlstate(exc: SQLAlchemyError) -> str:
    """PostgreSQL's SQLSTATE of ``exc``, '' when there is none (not PostgreSQL, or a connection
    that failed before the server answered)."""
    return str(getattr(exc.orig if isinstance(exc, DBAPIError) else None, "sqlstate", "") or "")


def rerun(exc: BaseException) -> bool:
    """Whether a write transaction that failed with ``exc`` is worth running again at once: another
    writer won a race (a unique key, a serialization failure or deadlock on PostgreSQL), so the
    rerun sees its rows. A lock timeout is not: SQLite's busy handler has waited the whole timeout."""
    if isinstance(exc, Conflict):
        return True
    if isinstance(exc, IntegrityError):  # a unique key only: a foreign key or NOT NULL stays refused
        return _sqlite_code(exc) in _SQLITE_UNIQUE or _sqlstate(exc) == _PG_UNIQUE
    return isinstance(exc, SQLAlchemyError) and _sqlstate(exc) in _PG_RERUN


def store_error(exc: SQLAlchemyError, what: str) -> StoreError:
    """The one translation of a database error: ``DatabaseLocked`` (a lock or statement timeout),
    ``DatabaseUnavailable`` (unreachable, disconnected, shutting down, out of disk),
    ``ReadOnlyDatabase``, else ``StoreError``; the message is ``what`` and the driver's first line."""
    message = f"{what}: {first_line(exc)}"
    code, sqlstate = _sqlite_code(exc), _sqlstate(exc)
    sqlite_code = None if code is None else code & 0xFF
    if sqlite_code in (_SQLITE_BUSY, _SQLITE_LOCKED) or sqlstate in _PG_LOCKED:
        return DatabaseLocked(message)
    if sqlite_code == _SQLITE_READONLY or sqlstate in _PG_READ_ONLY:
        return ReadOnlyDatabase(message)
    if (
        isinstance(exc, DisconnectionError | PoolTimeout)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or sqlite_code in _SQLITE_UNAVAILABLE
        or sqlstate in _PG_UNAVAILABLE
        or sqlstate.startswith("08")  # connection exceptions
        # psycopg's connection failures (refused, timed out, server gone) carry no SQLSTATE
        or (isinstance(exc, OperationalError) and not sqlstate and sqlite_code is None)
    ):
        return DatabaseUnavailable(message)
    return StoreError(message)


def first_line(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's appended SQL and background link."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


C = TypeVar("C", bound=type)


def translate_errors(cls: C) -> C:
    """Make every public method of ``cls`` raise ``StoreError`` (``store_error``) for any database
    error, including errors met while a returned iterator is consumed (an export streams its
    rows): the store's one entrance, so no caller ever sees SQLAlchemy's exceptions."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        setattr(cls, name, _translating(member))
    return cls


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            result = method(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise store_error(exc, method.__name__) from exc
        return _translated_iter(result, method.__name__) if inspect.isgenerator(result) else result

    return call


def _translated_iter(items: Iterator[Any], what: str) -> Iterator[Any]:
    try:
        yield from items
    except SQLAlchemyError as exc:
        raise store_error(exc, what) from exc
