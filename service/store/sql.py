"""Small SQL helpers shared by the store modules: dialect-neutral "insert or ignore", retries.

Every write of the store is an upsert that tolerates a concurrent writer: ``insert_ignore`` uses
``INSERT … ON CONFLICT DO NOTHING`` on both databases, and ``retrying`` reruns a whole transaction
when a unique constraint fired between our read and our write (another process won the race; the
rerun finds its row).
"""

from __future__ import annotations

import functools
import inspect
import random
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ClauseElement, Connection, Engine, Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from service.errors import StoreError
from service.store.db import write_options

T = TypeVar("T")
MAX_ATTEMPTS = 10


class Conflict(Exception):
    """Raised inside a transaction when a row we meant to create appeared meanwhile: rerun it."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Refuse naive datetimes early, with the caller in the traceback."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC or +08:00)")
    return value


@functools.cache
def _insert_ignore_stmt(dialect: str, table: Table, returning: bool) -> Any:
    # built once per table: SQLAlchemy then reuses the compiled form instead of re-deriving a
    # cache key from the values on every call (a third of the store's time before)
    ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).on_conflict_do_nothing()
    return ins.returning(table.c.id) if returning else ins


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> int | None:
    """Insert a row unless any unique constraint already holds it; the new ``id``, or None."""
    returning = "id" in table.c
    result = conn.execute(_insert_ignore_stmt(conn.dialect.name, table, returning), dict(values))
    if not returning:
        return None
    row = result.first()
    return None if row is None else int(row[0])


def insert_ignore_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, returning: bool = False
) -> list[int]:
    """``insert_ignore`` for many rows in one statement; with ``returning``, the ids of the rows
    it created (skipped rows give none), else []."""
    if not rows:
        return []
    result = conn.execute(_insert_ignore_stmt(conn.dialect.name, table, returning), rows)
    return [int(r[0]) for r in result] if returning else []


def retrying(engine: Engine, work: Callable[[Connection], T], *, what: str, snapshot: bool = False) -> T:
    """Run ``work`` in a write transaction; rerun it on a unique-constraint race or a lock timeout.

    ``snapshot``: on PostgreSQL run at REPEATABLE READ, so every read of ``work`` sees one snapshot
    (under READ COMMITTED a lookup ladder can miss a row in one step and see it in the next); a
    concurrent write then surfaces as a serialization failure and the work is rerun. SQLite
    serialises writers anyway. Raises ``StoreError`` when it still fails after ``MAX_ATTEMPTS`` or
    on any other database error.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with engine.connect() as conn:
                conn.execution_options(**write_options())
                if snapshot and conn.dialect.name == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    return work(conn)
        except (Conflict, IntegrityError, OperationalError) as exc:
            if isinstance(exc, OperationalError) and not _is_transient(exc):
                raise StoreError(f"{what}: {exc}") from exc
            if attempt == MAX_ATTEMPTS:
                raise StoreError(f"{what}: still conflicting after {attempt} attempts: {exc}") from exc
            time.sleep(random.uniform(0, 0.01 * attempt))  # jitter: racers do not collide again
        except SQLAlchemyError as exc:
            raise StoreError(f"{what}: {exc}") from exc
    raise AssertionError("unreachable")


def _is_transient(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "could not serialize", "busy"))


class _Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(_Explain)
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


def explain(conn: Connection, statement: ClauseElement, params: Mapping[str, Any] | None = None) -> list[str]:
    """The plan the database chooses for ``statement``, one line per step (``EXPLAIN QUERY PLAN``
    on SQLite, ``EXPLAIN`` on PostgreSQL): what the plan tests and the frontier benchmark read."""
    rows = conn.execute(_Explain(statement), dict(params or {})).all()
    return [str(r[-1]) for r in rows]


C = TypeVar("C", bound=type)


def translate_errors(cls: C) -> C:
    """Make every public method of ``cls`` raise ``StoreError`` for any database error, including
    errors met while a returned iterator is consumed (an export streams its rows): the store's one
    entrance, so no caller ever sees SQLAlchemy's exceptions."""
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
            raise StoreError(f"{method.__name__}: {first_line(exc)}") from exc
        return _translated_iter(result, method.__name__) if inspect.isgenerator(result) else result

    return call


def _translated_iter(items: Iterator[Any], what: str) -> Iterator[Any]:
    try:
        yield from items
    except SQLAlchemyError as exc:
        raise StoreError(f"{what}: {first_line(exc)}") from exc


def first_line(exc: SQLAlchemyError) -> str:
    """The driver's message without SQLAlchemy's appended SQL and background link."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
