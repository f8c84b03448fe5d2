"""Small SQL helpers shared by the store modules: dialect-neutral "insert or ignore", retries, and
``Prepared``, the way the crawl's hot statements run.

Every write of the store is an upsert that tolerates a concurrent writer: ``insert_ignore`` uses
``INSERT … ON CONFLICT DO NOTHING`` on both databases, and ``retrying`` reruns a whole transaction
when a unique constraint fired between our read and our write (another process won the race; the
rerun finds its row).
"""

from __future__ import annotations

import functools
import inspect
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ClauseElement, Connection, Dialect, Engine, Executable, Table, bindparam
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


class Prepared:
    """A Core statement run straight through the driver's cursor, on the caller's ``Connection``
    (in its transaction): compiled once per database to its SQL text with positional parameters,
    their order and their bind processors, so an execution only converts the values and calls
    the driver.

    SQLAlchemy's own ``execute`` re-derives much of this on every call (the cache key and the
    compiled cache lookup, the parameter dictionary, an execution context, a result object):
    about 60 µs a statement, more than half of what storing an article cost. What stays the same:
    the SQL (bind casts included), the values as the bind processors make them (``UtcDateTime``,
    JSON), the connection's ``before_cursor_execute`` and ``after_cursor_execute`` events
    (``benchmarks/instrument.py`` counts statements with them), and errors, raised as SQLAlchemy
    raises them (``IntegrityError``, ``OperationalError``…; a disconnect invalidates the
    connection) for ``retrying`` and ``translate_errors``. Rows come back as plain tuples, through
    the result processors of their columns.

    An ``INSERT`` also runs for many rows in one statement (``all_rows``, ``execute_rows``): its
    VALUES clause repeated, as SQLAlchemy's "insertmanyvalues" does, without compiling a statement
    per row count. Refused when first compiled: a parameter expanded at execution (an ``IN`` of a
    list: give each length its own statement) or computed by a callable.
    """

    __slots__ = ("_forms", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._forms: dict[tuple[str, Any], _Form] = {}

    def all(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows the statement returns."""
        form = self._form(conn.dialect)
        return form.run(conn, form.sql, _MaybeBound(form, params), fetch=True)[0]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.all(conn, params)
        return rows[0] if rows else None

    def scalar(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """The first column of the first row, or None without rows."""
        rows = self.all(conn, params)
        return rows[0][0] if rows else None

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; the driver's row count."""
        form = self._form(conn.dialect)
        return form.run(conn, form.sql, _MaybeBound(form, params), fetch=False)[1]

    def all_rows(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """An INSERT of all ``rows`` in one statement; the rows it returns."""
        form = self._form(conn.dialect)
        return form.run(conn, form.rows_sql(len(rows)), _MaybeBound(form, rows), fetch=True)[0]

    def execute_rows(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
        """An INSERT of all ``rows`` in one statement, returning nothing; the driver's row count."""
        form = self._form(conn.dialect)
        return form.run(conn, form.rows_sql(len(rows)), _MaybeBound(form, rows), fetch=False)[1]

    def _form(self, dialect: Dialect) -> _Form:
        key = (dialect.name, dialect.server_version_info)
        form = self._forms.get(key)
        if form is None:
            form = self._forms[key] = _Form(self.statement, dialect)
        return form


#: a parameter the caller must give (no value in the statement)
_REQUIRED: Any = object()
#: a named placeholder of the pyformat style (psycopg): ``%(name)s``
_NAMED = re.compile(r"%\((\w+)\)s")
_VALUES, _ON_CONFLICT = " VALUES ", " ON CONFLICT "


class _MaybeBound:
    """Parameters not yet in the driver's form: converted inside ``_Form.run``'s error handling, so
    a value a bind processor refuses fails as SQLAlchemy's ``StatementError``, as before."""

    __slots__ = ("form", "params")

    def __init__(self, form: _Form, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None:
        self.form, self.params = form, params

    def bind(self) -> list[Any]:
        if isinstance(self.params, Mapping):
            return self.form.values(self.params)
        return [v for row in self.params for v in self.form.values(row)]


class _Form:
    """A statement compiled for one database (see ``Prepared``)."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError(f"a parameter expanded at execution cannot be prepared: {sql}")
        if compiled.positional:
            self.order: list[str] = list(compiled.positiontup)
        else:  # pyformat: the same SQL with positional placeholders (psycopg takes either)
            self.order = _NAMED.findall(sql)
            sql = _NAMED.sub("%s", sql)
        self.sql = sql
        self.placeholder = "?" if compiled.positional else "%s"
        # per parameter: its name in the SQL, the caller's key, the value in the statement, bind processor
        # as SQLAlchemy: the last parameter of a name gives its value, the last with a bind processor
        # its processor (a name used twice, once without a type, is still converted)
        given: dict[str, tuple[str, Any]] = {}
        processors: dict[str, Any] = {}
        for param, name in compiled.bind_names.items():
            if param.callable is not None:
                raise ValueError(f"a callable parameter cannot be prepared: {name}")
            given[name] = (param.key, _REQUIRED if param.required else param.value)
            processor = param.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors[name] = processor
        self.ordered = [(*given[name], processors.get(name)) for name in self.order]
        self.columns = [entry[3] for entry in compiled._result_columns or ()]
        self.dialect = dialect
        #: result processors of the columns, once the first rows told their driver types
        self.results: list[Any] | None = None
        self._rows_sql: dict[int, str] = {}

    def values(self, params: Mapping[str, Any]) -> list[Any]:
        """The parameters in the driver's (positional) form."""
        out = []
        for key, default, processor in self.ordered:
            value = params.get(key, default)
            if value is _REQUIRED:
                raise KeyError(f"a value is required for the parameter {key!r}")
            out.append(processor(value) if processor is not None else value)
        return out

    def rows_sql(self, n: int) -> str:
        """The INSERT for ``n`` rows: the VALUES clause repeated (its parameters are all of the
        statement's, so ``values`` of each row in turn fill it)."""
        sql = self._rows_sql.get(n)
        if sql is None:
            head, _, rest = self.sql.partition(_VALUES)
            clause, on, tail = rest.partition(_ON_CONFLICT)
            if not on or clause.count(self.placeholder) != len(self.order):
                raise ValueError(f"not an INSERT … VALUES … ON CONFLICT of its parameters alone: {self.sql}")
            sql = self._rows_sql[n] = head + _VALUES + ", ".join([clause] * n) + on + tail
        return sql

    def run(self, conn: Connection, sql: str, params: _MaybeBound, *, fetch: bool) -> tuple[list[Any], int]:
        cursor: Any = None
        args: list[Any] | None = None
        rows: list[Any] = []
        try:
            args = params.bind()
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            dispatch = conn.dispatch
            if dispatch.before_cursor_execute:
                dispatch.before_cursor_execute(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            if fetch:
                rows = cursor.fetchall()
            count: int = cursor.rowcount
            if dispatch.after_cursor_execute:
                dispatch.after_cursor_execute(conn, cursor, sql, args, None, False)
            cursor.close()
        except Exception as exc:
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        if rows and self.columns:
            rows = self._processed(rows, cursor)
        return rows, count

    def _processed(self, rows: list[Any], cursor: Any) -> list[tuple[Any, ...]]:
        if self.results is None:
            self.results = [
                type_.dialect_impl(self.dialect).result_processor(self.dialect, d[1])
                for type_, d in zip(self.columns, cursor.description or (), strict=False)
            ]
        procs = self.results
        if not any(procs):
            return rows
        return [tuple([v if p is None else p(v) for p, v in zip(procs, row, strict=False)]) for row in rows]


@functools.cache
def _insert_ignore_stmt(
    dialect: str, table: Table, columns: tuple[str, ...], returning: tuple[str, ...]
) -> Prepared:
    """``INSERT … ON CONFLICT DO NOTHING`` of ``columns`` (parameters named as the columns),
    returning ``returning``: one per shape, built once."""
    ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    ins = ins.values({c: bindparam(c, type_=table.c[c].type) for c in columns}).on_conflict_do_nothing()
    return Prepared(ins.returning(*(table.c[c] for c in returning)) if returning else ins)


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any]) -> int | None:
    """Insert a row unless any unique constraint already holds it; the new ``id``, or None."""
    returning = ("id",) if "id" in table.c else ()
    stmt = _insert_ignore_stmt(conn.dialect.name, table, tuple(values), returning)
    if not returning:
        stmt.execute(conn, values)
        return None
    row = stmt.first(conn, values)
    return None if row is None else int(row[0])


#: rows of one multi-row INSERT (a longer list takes several)
_MANY_ROWS = 500


def insert_ignore_many(
    conn: Connection, table: Table, rows: list[dict[str, Any]], *, returning: bool = False
) -> list[int]:
    """``insert_ignore`` for many rows in one statement; with ``returning``, the ids of the rows
    it created (skipped rows give none), else []."""
    return [int(r[0]) for r in insert_ignore_rows(conn, table, rows, returning=("id",) if returning else ())]


def insert_ignore_rows(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, returning: tuple[str, ...] = ()
) -> list[tuple[Any, ...]]:
    """``insert_ignore`` of many rows (each with the same columns) in one multi-row INSERT per
    ``_MANY_ROWS`` rows; the ``returning`` columns of the rows it created. One statement and one
    round trip: psycopg's ``executemany`` sends a statement per row (in a pipeline), which cost
    as much CPU as the rest of the article on PostgreSQL."""
    if not rows:
        return []
    stmt = _insert_ignore_stmt(conn.dialect.name, table, tuple(rows[0]), returning)
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), _MANY_ROWS):
        chunk = rows[start : start + _MANY_ROWS]
        if returning:
            out.extend(stmt.all_rows(conn, chunk))
        else:
            stmt.execute_rows(conn, chunk)
    return out


class KeptConnection:
    """The connection a ``Store`` keeps for its write transactions on SQLite, instead of a pool
    checkout, reset and checkin per transaction (a tenth of the store's CPU per article).

    Only the thread and process that made it use it, and never inside one of its own transactions:
    any other caller gets a pooled connection, as without it. A failed transaction drops it (the
    next one starts on a fresh connection, as before). SQLite only: a PostgreSQL connection that
    rested is pinged on checkout (``db.make_engine``), which a kept one would skip.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._owner = (os.getpid(), threading.get_ident())
        self._conn: Connection | None = None

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        conn = self._conn
        if (os.getpid(), threading.get_ident()) != self._owner or (
            conn is not None and conn.in_transaction()
        ):
            with self.engine.connect() as other:
                yield other
            return
        if conn is None or conn.closed:
            conn = self._conn = self.engine.connect()
        try:
            yield conn
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the kept connection (in the process that opened it); a later use opens another."""
        conn, self._conn = self._conn, None
        if conn is not None and os.getpid() == self._owner[0]:
            conn.close()


def retrying(
    engine: Engine | KeptConnection, work: Callable[[Connection], T], *, what: str, snapshot: bool = False
) -> T:
    """Run ``work`` in a write transaction; rerun it on a unique-constraint race or a lock timeout.

    ``snapshot``: on PostgreSQL run at REPEATABLE READ, so every read of ``work`` sees one snapshot
    (under READ COMMITTED a lookup ladder can miss a row in one step and see it in the next); a
    concurrent write then surfaces as a serialization failure and the work is rerun. SQLite
    serialises writers anyway. Raises ``StoreError`` when it still fails after ``MAX_ATTEMPTS`` or
    on any other database error.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with engine.connect() as conn:  # a new connection, or the one a Store keeps
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


def explain(
    conn: Connection, statement: ClauseElement | Prepared, params: Mapping[str, Any] | None = None
) -> list[str]:
    """The plan the database chooses for ``statement``, one line per step (``EXPLAIN QUERY PLAN``
    on SQLite, ``EXPLAIN`` on PostgreSQL): what the plan tests and the frontier benchmark read. A
    ``Prepared`` statement is explained as it is sent (an UPDATE too)."""
    if isinstance(statement, Prepared):
        form = statement._form(conn.dialect)
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        rows = conn.exec_driver_sql(prefix + form.sql, tuple(form.values(dict(params or {})))).all()
    else:
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
