"""``sql.Prepared`` sends the driver what SQLAlchemy's own ``execute`` sends, on both databases: the
same SQL, the same values after the bind processors, the same rows back, the same errors, and
the statements stay visible to ``before_cursor_execute`` (what ``benchmarks/instrument.py`` counts).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from service.errors import StoreError
from service.store import articles, dedup, frontier
from service.store.repo import Store
from service.store.schema import fetches, simhash_index
from service.store.sql import Prepared, insert_ignore_rows
from service.store.types import NewUrl
from service.text.simhash import index_keys
from tests.integration.store.builders import SEEN, make_article

AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
_NAMED = re.compile(r"%\((\w+)\)s")

Sent = list[tuple[str, Any]]


def _sent(engine: Engine, run: Callable[[Connection], Any]) -> tuple[Sent, Any]:
    """What ``run`` sent to the driver (SQL with positional placeholders, positional values) and
    what it returned, in a transaction rolled back after."""
    seen: Sent = []

    def listen(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if isinstance(parameters, dict):  # pyformat (psycopg): in the order of the placeholders
            parameters = [parameters[name] for name in _NAMED.findall(statement)]
            statement = _NAMED.sub("%s", statement)
        elif parameters and isinstance(parameters, list) and isinstance(parameters[0], (dict, tuple, list)):
            parameters = [v for row in parameters for v in (row.values() if isinstance(row, dict) else row)]
        seen.append((statement, list(parameters or ())))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with engine.connect() as conn, conn.begin() as tx:
            result = run(conn)
            tx.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return [s for s in seen if not s[0].startswith(("BEGIN", "PRAGMA"))], result


def _url_id(store: Store) -> int:
    store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1900001.shtml", "article", None, SEEN)])
    claimed = store.claim_due(limit=1, now=SEEN, lease_s=60, worker="t:1")
    return claimed[0].id


def _cases(conn: Connection, url_id: int) -> list[tuple[Prepared, dict[str, Any]]]:
    name = conn.dialect.name
    fingerprint = (1 << 63) | 0x5A5A_1234
    finish = frontier._finish_stmt(("due_at", "etag", "last_error", "state", "updated_at"), "reset", True)
    return [
        (frontier._lease_stmt(2), {"end": AT, "worker": "w:1", "now": AT, "i0": url_id, "i1": url_id + 99}),
        (
            frontier._claim_prepared(2, True),
            {
                "now": AT,
                "limit": 8,
                "kind0": "article",
                "kind1": "hub",
                "first": date(2026, 1, 1),
                "last": date(2026, 12, 31),
            },
        ),
        (frontier._PARK_EXPIRED, {"now": AT, "max": 3, "error": "died"}),
        # ``_fetched_at`` twice, once without a type: still converted as a UtcDateTime
        (
            finish,
            {
                "_id": url_id,
                "_fetched_at": AT,
                "v_due_at": None,
                "v_last_error": None,
                "v_etag": '"x"',
                "v_state": "done",
                "v_updated_at": AT + timedelta(seconds=1),
            },
        ),
        (
            dedup._RUNGS,
            {
                "key": "k",
                "site_id": None,
                "content_hash": "c",
                **dict(zip(dedup._KEY_PARAMS, index_keys(fingerprint), strict=True)),
            },
        ),
        (
            articles._create_stmt(name),
            {
                "url_key": "//k",
                "url": "https://k",
                "site_id": "9",
                "duplicate_of": None,
                "version": 1,
                "content_hash": "c",
                "simhash": -5,
                "published_at": AT,
                "published_on": AT.date(),
                "channel": "镇江",
                "first_seen_at": AT,
                "last_seen_at": AT,
                "last_changed_at": AT,
                "search_pending": True,
            },
        ),
    ]


def test_prepared_sends_what_sqlalchemy_sends(engine: Engine, store: Store) -> None:
    url_id = _url_id(store)
    with engine.connect() as conn:
        cases = _cases(conn, url_id)
    for prepared, params in cases:
        rows = prepared not in (frontier._PARK_EXPIRED, cases[3][0])  # without rows: their count
        ours, our_rows = _sent(engine, functools.partial(_ours, prepared, params, rows=rows))
        theirs, their_rows = _sent(engine, functools.partial(_theirs, prepared, params))
        assert ours == theirs, prepared.statement
        if prepared is cases[-1][0] and engine.dialect.name == "postgresql":  # ids of a sequence: not reused
            assert len(our_rows) == len(their_rows) == 1
        else:
            assert our_rows == their_rows, prepared.statement
        assert ours, "the statement is visible to before_cursor_execute"


def _ours(prepared: Prepared, params: dict[str, Any], conn: Connection, *, rows: bool) -> Any:
    return prepared.all(conn, params) if rows else prepared.execute(conn, params)


def _theirs(prepared: Prepared, params: dict[str, Any], conn: Connection) -> Any:
    result = conn.execute(prepared.statement, params)  # type: ignore[call-overload]
    return [tuple(r) for r in result] if result.returns_rows else result.rowcount


def test_prepared_rows_come_back_converted(engine: Engine, store: Store) -> None:
    url_id = _url_id(store)
    _, rows = _sent(
        engine, lambda c: frontier._lease_stmt(1).all(c, {"end": AT, "worker": "w", "now": AT, "i0": url_id})
    )
    (row,) = rows
    assert row[0] == url_id and row[2] == "article"
    published_on = row[frontier._CLAIMED.index("published_on")]
    assert published_on is None or isinstance(published_on, date)
    published_at = row[frontier._CLAIMED.index("published_at")]
    assert published_at is None or (isinstance(published_at, datetime) and published_at.tzinfo is not None)


def test_many_rows_are_one_statement_with_sqlalchemys_values(engine: Engine, store: Store) -> None:
    article_id = store.store_article(make_article(), url_id=None, fetch_id=None, seen_at=SEEN).article_id
    rows = [{"key": k, "fingerprint": -(k + 1), "article_id": article_id} for k in range(7)]
    table = simhash_index

    def ours(c: Connection) -> list[tuple[Any, ...]]:
        return insert_ignore_rows(c, table, rows, returning=("key",))

    def theirs(c: Connection) -> list[tuple[Any, ...]]:
        ins = (postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert)(table)
        return [tuple(r) for r in c.execute(ins.values(rows).on_conflict_do_nothing().returning(table.c.key))]

    (ours_sent,), our_rows = _sent(engine, ours)
    (theirs_sent,), their_rows = _sent(engine, theirs)
    assert ours_sent[1] == theirs_sent[1]
    assert ours_sent[0].count("(") == theirs_sent[0].count("(")
    assert sorted(our_rows) == sorted(their_rows) == [(k,) for k in range(7)]


def test_prepared_raises_sqlalchemys_errors_and_the_store_translates_them(
    engine: Engine, store: Store
) -> None:
    def orphan(c: Connection) -> None:  # no URL 987654: the foreign key refuses it
        insert_ignore_rows(c, fetches, [{"url_id": 987654, "fetched_at": AT}])

    with pytest.raises(IntegrityError):
        _sent(engine, orphan)
    with pytest.raises(StoreError) as caught:
        store.store_fetched(
            make_article(),
            url_id=987654,
            fetch={"status": 200, "fetched_at": AT, "warc_file": "secret-file.warc"},
            next_due_at=None,
            etag=None,
            last_modified=None,
        )
    assert "store_fetched" in str(caught.value)


def test_expanding_parameters_are_refused(engine: Engine) -> None:
    from sqlalchemy import bindparam, select

    from service.store.schema import urls

    stmt = Prepared(select(urls.c.id).where(urls.c.url_key.in_(bindparam("keys", expanding=True))))
    with engine.connect() as conn, pytest.raises(ValueError, match="expanded"):
        stmt.all(conn, {"keys": ["a"]})


def test_last_fetched_at_is_stored_as_every_other_time(engine: Engine, store: Store) -> None:
    url_id = _url_id(store)
    fetch = {
        "status": 200,
        "fetched_at": AT,
        "warc_file": None,
        "warc_offset": None,
        "warc_length": None,
        "payload_digest": None,
        "error": None,
        "elapsed_s": None,
        "run_id": None,
    }
    store.store_fetched(
        make_article(), url_id=url_id, fetch=fetch, next_due_at=None, etag=None, last_modified=None
    )
    with engine.connect() as conn:
        raw = conn.exec_driver_sql(f"SELECT last_fetched_at, updated_at FROM urls WHERE id = {url_id}").one()
    if engine.dialect.name == "sqlite":  # naive UTC text, as UtcDateTime writes it: text order is time order
        assert raw[0] == "2026-03-01 08:30:15.123456"
        assert len(raw[1]) == len(raw[0])
    else:
        assert raw[0] == AT
