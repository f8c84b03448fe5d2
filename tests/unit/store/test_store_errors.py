"""The one translation of database errors (``sql.store_error``) and which failures a write reruns
(``sql.rerun``), from the drivers' own codes (SQLite's result code, PostgreSQL's SQLSTATE), never
from the wording of a message."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from service.errors import DatabaseLocked, DatabaseUnavailable, ReadOnlyDatabase, StoreError
from service.store.sql import Conflict, rerun, store_error


def _sqlite(kind: type[sqlite3.Error], code: int, message: str = "boom") -> sqlite3.Error:
    error = kind(message)
    error.sqlite_errorcode = code  # set by the sqlite3 module on the errors it raises
    return error


def _wrapped(orig: Exception, cls: type[DBAPIError] = OperationalError) -> DBAPIError:
    return cls("INSERT INTO secrets VALUES ('hunter2')", {"p": "hunter2"}, orig)


def _pg(sqlstate: str) -> Exception:
    psycopg = pytest.importorskip("psycopg", reason="psycopg (a dependency) gives PostgreSQL's errors")
    return psycopg.errors.lookup(sqlstate)("server says no")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (5, DatabaseLocked),  # SQLITE_BUSY: the busy timeout ran out
        (517, DatabaseLocked),  # SQLITE_BUSY_SNAPSHOT: an extended code of BUSY
        (6, DatabaseLocked),  # SQLITE_LOCKED
        (8, ReadOnlyDatabase),
        (13, DatabaseUnavailable),  # SQLITE_FULL: the disk, not the data
        (14, DatabaseUnavailable),  # SQLITE_CANTOPEN
        (1, StoreError),  # SQLITE_ERROR: a plain failure
    ],
)
def test_sqlite_errors_by_their_code(code: int, expected: type[StoreError]) -> None:
    # the message says "locked" whatever the code: the code decides
    error = store_error(_wrapped(_sqlite(sqlite3.OperationalError, code, "database is locked")), "add_urls")
    assert type(error) is expected
    assert str(error) == "add_urls: database is locked"  # one line, no statement, no values


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("55P03", DatabaseLocked),
        ("57014", DatabaseLocked),  # statement_timeout
        ("25006", ReadOnlyDatabase),
        ("57P01", DatabaseUnavailable),  # the server shuts down
        ("08006", DatabaseUnavailable),
        ("42P01", StoreError),  # no such table
    ],
)
def test_postgresql_errors_by_their_sqlstate(sqlstate: str, expected: type[StoreError]) -> None:
    assert type(store_error(_wrapped(_pg(sqlstate), ProgrammingError), "claim_due")) is expected


def test_a_connection_that_failed_before_the_server_answered_is_unavailable() -> None:
    psycopg = pytest.importorskip("psycopg", reason="psycopg (a dependency) gives PostgreSQL's errors")
    refused = psycopg.OperationalError("connection refused")  # no SQLSTATE
    assert type(store_error(_wrapped(refused), "stats")) is DatabaseUnavailable


def test_only_lost_races_are_rerun() -> None:
    assert rerun(Conflict("appeared meanwhile"))
    assert rerun(_wrapped(_sqlite(sqlite3.IntegrityError, 2067), IntegrityError))  # UNIQUE
    assert rerun(_wrapped(_sqlite(sqlite3.IntegrityError, 1555), IntegrityError))  # PRIMARY KEY
    assert not rerun(_wrapped(_sqlite(sqlite3.IntegrityError, 787), IntegrityError))  # FOREIGN KEY
    assert not rerun(_wrapped(_sqlite(sqlite3.OperationalError, 5)))  # locked: waited already
    assert not rerun(ValueError("bad argument"))


def test_postgresql_races_are_rerun() -> None:
    assert rerun(_wrapped(_pg("40001")))  # serialization failure
    assert rerun(_wrapped(_pg("40P01")))  # deadlock
    assert rerun(_wrapped(_pg("23505"), IntegrityError))
    assert not rerun(_wrapped(_pg("23503"), IntegrityError))  # foreign key
