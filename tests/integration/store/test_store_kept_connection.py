"""On SQLite a ``Store`` keeps one connection for its write transactions (``sql.KeptConnection``):
the thread that made the store reuses it, another thread gets a pooled one, and a failed
transaction leaves it for a fresh one, as a pooled connection per transaction did."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from service.errors import StoreError
from service.settings import DatabaseSettings, DedupSettings
from service.store import db
from service.store.repo import NewUrl, Store
from service.store.sql import Conflict, KeptConnection, retrying
from tests.integration.store.builders import SEEN


@pytest.fixture()
def sqlite_store(tmp_path: Path) -> Any:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'kept.db'}"))
    db.upgrade(engine)
    store = Store(engine, DedupSettings())
    yield store
    store.close()


def _connection_of(store: Store) -> Connection:
    return retrying(store.writer, lambda c: c, what="test")  # type: ignore[arg-type]


def test_the_owner_thread_reuses_one_connection_other_threads_do_not(sqlite_store: Store) -> None:
    assert isinstance(sqlite_store.writer, KeptConnection)
    first = _connection_of(sqlite_store)
    sqlite_store.add_urls([NewUrl("https://www.jsw.com.cn/2026/0301/1.shtml", "article", None, SEEN)])
    assert _connection_of(sqlite_store) is first and not first.closed
    seen: list[Connection] = []
    thread = threading.Thread(target=lambda: seen.append(_connection_of(sqlite_store)))
    thread.start()
    thread.join()
    assert seen[0] is not first and seen[0].closed  # a pooled one, returned after its transaction


def test_a_failed_transaction_drops_the_kept_connection(sqlite_store: Store) -> None:
    first = _connection_of(sqlite_store)
    calls: list[int] = []

    def conflicting(_c: Connection) -> None:
        calls.append(1)
        raise Conflict("appeared meanwhile")

    with pytest.raises(StoreError, match="still conflicting"):
        retrying(sqlite_store.writer, conflicting, what="test")
    assert len(calls) > 1 and first.closed
    again = _connection_of(sqlite_store)
    assert again is not first and _connection_of(sqlite_store) is again


def test_inside_one_of_its_own_transactions_it_hands_out_another(sqlite_store: Store) -> None:
    writer = sqlite_store.writer
    assert isinstance(writer, KeptConnection)

    def outer(c: Connection) -> bool:
        with writer.connect() as inner:  # e.g. a read while the write is under way
            return inner is not c and not inner.in_transaction()

    assert retrying(writer, outer, what="test")


def test_closing_the_store_closes_it(sqlite_store: Store) -> None:
    kept = _connection_of(sqlite_store)
    sqlite_store.close()
    assert kept.closed
