"""The store on SQLAlchemy's public API, on both databases: many rows in one ``execute`` are one
multi-row INSERT (with the rows it created coming back), values go through the column types,
database errors reach callers as ``StoreError`` and its subclasses (one translation), a pooled
PostgreSQL connection that died while idle is replaced before use (``pool_pre_ping``), and whether
the database is read-only is asked of the database."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import IntegrityError

from service.errors import DatabaseUnavailable, StoreError
from service.settings import DatabaseSettings, DedupSettings
from service.store import db
from service.store.repo import Store
from service.store.schema import fetches, simhash_index
from service.store.sql import insert_ignore_rows
from service.store.types import NewUrl
from tests.integration.store.builders import SEEN, make_article

AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def _statements(engine: Engine, run: Any) -> tuple[list[str], Any]:
    """The statements ``run(conn)`` sent to the driver (BEGIN and PRAGMAs left out) and what it
    returned, in a transaction rolled back after."""
    seen: list[str] = []

    def listen(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        with engine.connect() as conn, conn.begin() as tx:
            result = run(conn)
            tx.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen, result


def _url_id(store: Store) -> int:
    store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1900001.shtml", "article", None, SEEN)])
    return store.claim_due(limit=1, now=SEEN, lease_s=60, worker="t:1")[0].id


def test_many_rows_are_one_insert_and_only_the_created_rows_come_back(engine: Engine, store: Store) -> None:
    article_id = store.store_article(make_article(), url_id=None, fetch_id=None, seen_at=SEEN).article_id
    rows = [{"key": k, "fingerprint": -(k + 1), "article_id": article_id} for k in range(7)]

    def twice(c: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        first = insert_ignore_rows(c, simhash_index, rows, returning=("key",))
        return first, insert_ignore_rows(
            c, simhash_index, [*rows[3:], {**rows[0], "key": 99}], returning=("key",)
        )

    sent, (first, second) = _statements(store.engine, twice)
    assert len(sent) == 2, sent  # one statement per call, however many rows
    assert sent[0].count("VALUES") == 1 and sent[0].count("(") > 7
    assert sorted(first) == [(k,) for k in range(7)]
    assert second == [(99,)]  # rows already there are skipped, not returned


def test_a_database_error_is_one_store_error(engine: Engine, store: Store) -> None:
    def orphan(c: Connection) -> None:  # no URL 987654: the foreign key refuses it
        insert_ignore_rows(c, fetches, [{"url_id": 987654, "fetched_at": AT}])

    with pytest.raises(IntegrityError):
        _statements(engine, orphan)
    with pytest.raises(StoreError) as caught:
        store.store_fetched(
            make_article(),
            url_id=987654,
            fetch={"status": 200, "fetched_at": AT, "warc_file": "secret-file.warc"},
            next_due_at=None,
            etag=None,
            last_modified=None,
        )
    assert "store_fetched" in str(caught.value) and "\n" not in str(caught.value)
    assert "still conflicting" not in str(caught.value)  # a foreign key is refused at once, not rerun
    assert "secret-file" not in str(caught.value)  # the driver's message, not the statement's values


def test_last_fetched_at_is_stored_as_every_other_time(engine: Engine, store: Store) -> None:
    url_id = _url_id(store)
    fetch = {"status": 200, "fetched_at": AT, "warc_file": None, "warc_offset": None, "warc_length": None,
             "payload_digest": None, "error": None, "elapsed_s": None, "run_id": None}  # fmt: skip
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


def test_a_writable_database_is_not_read_only(store: Store) -> None:
    assert store.read_only() is False


@pytest.fixture()
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() == 0:
        pytest.skip("root writes to read-only files: the read-only case cannot be made")
    folder = tmp_path / "ro"
    folder.mkdir()
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{folder / 'archive.db'}"))
    db.upgrade(engine)
    with Store(engine, DedupSettings()) as store:
        store.store_article(make_article(), url_id=None, fetch_id=None, seen_at=SEEN)
        store.refresh_search()
        second = make_article(
            "https://www.jsw.com.cn/2026/0301/1900002.shtml", seed=2, title="镇江新闻标题二"
        )
        store.store_article(second, url_id=None, fetch_id=None, seen_at=SEEN)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    for name in os.listdir(folder):
        (folder / name).chmod(stat.S_IRUSR)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        yield folder / "archive.db"
    finally:
        folder.chmod(stat.S_IRWXU)


def test_a_read_only_sqlite_file_says_so_and_search_reads_what_is_indexed(read_only_folder: Path) -> None:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{read_only_folder}"), read_only=True)
    with Store(engine, DedupSettings()) as store:
        assert store.read_only() is True
        # the second article was never indexed, and cannot be now: the first is found, no error
        assert [h.url for h in store.search("新闻标题")] == [make_article().url]


@pytest.mark.postgres
def test_a_read_only_postgresql_database_says_so(postgres_db_url: str) -> None:
    engine = db.make_engine(DatabaseSettings(url=postgres_db_url))
    db.upgrade(engine)
    name = engine.url.database
    with engine.connect() as conn:
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        conn.commit()
    engine.dispose()  # the setting holds for new sessions
    try:
        with Store(engine, DedupSettings()) as store:
            assert store.read_only() is True
            assert store.search("镇江") == []
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("SET default_transaction_read_only = off")  # this session may write
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
        engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


@pytest.mark.postgres
def test_a_connection_that_died_while_idle_is_replaced(postgres_db_url: str) -> None:
    engine = db.make_engine(DatabaseSettings(url=postgres_db_url, pool_size=1))
    other = db.make_engine(DatabaseSettings(url=postgres_db_url))
    try:
        first = _backend(engine)
        with other.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})").scalar_one()
        assert _backend(engine) != first  # pinged, found dead, replaced: no error reaches the caller
    finally:
        engine.dispose()
        other.dispose()


def test_a_database_that_cannot_be_reached_is_unavailable_not_a_failure_of_the_work() -> None:
    pytest.importorskip("psycopg", reason="psycopg (a dependency) is needed to reach PostgreSQL")
    # port 1 on the loopback: refused at once, no server needed
    engine = db.make_engine(DatabaseSettings(url="postgresql://jinshan:secret@127.0.0.1:1/jinshan"))
    with Store(engine, DedupSettings()) as store:
        with pytest.raises(DatabaseUnavailable) as caught:
            store.frontier_counts()
        with pytest.raises(DatabaseUnavailable):
            store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1.shtml", "article", None, SEEN)])
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)
