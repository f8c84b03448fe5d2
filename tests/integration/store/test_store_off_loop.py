"""The event loop never waits on the database: every store call of a cycle and a drain runs on the
store's threads (never on the loop's), and /healthz answers, saying why, while SQLite's write lock is
held by another process in the middle of a drain, or while PostgreSQL is stopped (SIGSTOP).
Order, not speed: the loop is shown to keep running while the database does not answer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from service.app.daemon import Daemon
from service.app.web import WebServer
from service.crawl.context import CrawlContext
from service.crawl.cycle import Cycles
from service.crawl.drain import drain
from service.crawl.metrics import Metrics
from service.settings import Settings, load_settings
from service.store import AsyncStore, NewUrl, Store, StoreError, db, open_store
from tests.support import offloop
from tests.support.postgres import PostgresServer, create_database, find_bindir

BASE = "https://www.jsw.com.cn"
PARAGRAPH = "镇江市今天召开会议，部署下一阶段的城市更新工作，要求各地各部门抓好落实，确保各项任务按期完成。"
#: a generous bound on waits that only a broken loop would reach (never a measure of speed)
PATIENCE_S = 60.0


def article_url(n: int) -> str:
    return f"{BASE}/2026/112{n % 10}/18800{n:02d}.shtml"


@dataclass
class Answer:
    url: str
    body: bytes
    fetched_at: datetime
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()
    redirects: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    payload_digest: str | None = None
    warc: None = None


class Site:
    """The home page lists articles 1 and 2; any article URL answers with its page."""

    async def fetch(self, url: str, **_: object) -> Answer:
        now = datetime.now(UTC)
        if url.rstrip("/") == BASE:
            links = "".join(f'<li><a href="{article_url(n)}">第{n}篇新闻</a></li>' for n in (1, 2))
            return Answer(url, f"<html><body><ul>{links}</ul></body></html>".encode(), now)
        n = int(url.rsplit("/", 1)[1][5:7])
        body = "".join(f"<p>{PARAGRAPH}（{n}之{k}）</p>" for k in range(4))
        page = (f"<html><head><title>第{n}篇新闻_金山网</title></head><body><div class='article'><h1>第{n}篇新闻</h1>"
                f"<div class='meta'>发布时间：2026-11-2{n % 10} 08:00</div><div id='article-content'>{body}</div>"
                "</div></body></html>")  # fmt: skip
        return Answer(url, page.encode(), now)


def crawl_settings(**database: object) -> Settings:
    return load_settings(environ={}, overrides={"site": {"start_urls": ["/"]}, "epaper": {"enabled": False},
                                                "database": database})  # fmt: skip


def context_for(astore: AsyncStore, settings: Settings) -> CrawlContext:
    return CrawlContext(settings=settings, store=astore, fetcher=Site(), metrics=Metrics(), worker="test:1")


class Ticker:
    """Counts its turns on the loop: a loop that waits on the database does not count."""

    def __init__(self) -> None:
        self.ticks = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1


def test_no_store_call_nor_sleep_runs_on_the_event_loop(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    crawl = crawl_settings()

    async def scenario() -> tuple[int, int]:
        astore = AsyncStore(store)
        daemon = Daemon(crawl, store=astore)
        cycles = Cycles(context_for(astore, crawl), stop=daemon.stop, halt=daemon.halt)
        outcome = await daemon.cycle(cycles, full=True)
        await astore.add_urls([NewUrl(article_url(3), "article", None, datetime.now(UTC))])
        await daemon._drain(cycles)
        healthy, _ = await daemon.health()
        astore.close()
        return outcome.run.stats.counts["new"], int(healthy)

    with offloop.watch(store, monkeypatch) as seen:
        new, healthy = asyncio.run(scenario())
    assert new == 2 and healthy
    assert seen.calls == [], seen.calls
    assert seen.off_loop > 10  # the watch did see the store at work, on its threads


@pytest.fixture()
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "archive.db"


def test_healthz_answers_while_another_process_holds_the_sqlite_write_lock_during_a_drain(
    sqlite_path: Path,
) -> None:
    crawl = crawl_settings(url=f"sqlite:///{sqlite_path}", busy_timeout_s=PATIENCE_S * 2)
    store = open_store(crawl)
    store.add_urls([NewUrl(article_url(n), "article", None, datetime.now(UTC)) for n in (1, 2, 3)])
    holder = sqlite3.connect(sqlite_path, isolation_level=None)

    async def scenario() -> tuple[int, str, int, int]:
        astore = AsyncStore(store)
        daemon = Daemon(crawl, store=astore)
        web = WebServer("127.0.0.1:0", health=daemon.health, metrics=lambda: b"")
        ticker = Ticker()
        ticking = asyncio.create_task(ticker.run())
        assert await web.start()
        try:
            holder.execute("BEGIN IMMEDIATE")  # another process's writer, in the middle of the drain
            run = context_for(astore, crawl).run()
            draining = asyncio.create_task(drain(run, stop=asyncio.Event(), workers=1))
            async with httpx.AsyncClient(timeout=PATIENCE_S) as client:
                answer = await client.get(f"http://127.0.0.1:{web.port}/healthz")
            # the drain is still waiting for the lock, yet the loop answered and kept ticking
            assert not draining.done()
            ticks_while_locked = ticker.ticks
            holder.execute("ROLLBACK")
            processed = await asyncio.wait_for(draining, PATIENCE_S)
            return answer.status_code, answer.text, ticks_while_locked, processed
        finally:
            ticking.cancel()
            await web.stop()
            astore.close()

    try:
        status, text, ticks, processed = asyncio.run(scenario())
    finally:
        holder.close()
        store.close()
    assert status == 503 and "database locked" in text, text
    assert ticks > 0
    assert processed == 3


@pytest.fixture()
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test alone: it is stopped (SIGSTOP) under the crawl."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL tests skipped: no initdb/pg_ctl found")
    pg = PostgresServer(bindir)
    try:
        pg.start()
        yield pg
    finally:
        pg.thaw()
        pg.stop()


@pytest.mark.postgres
def test_healthz_answers_while_postgresql_is_stopped_during_a_drain(own_postgres: PostgresServer) -> None:
    crawl = crawl_settings(url=create_database(own_postgres.url))
    store = open_store(crawl)
    store.add_urls([NewUrl(article_url(n), "article", None, datetime.now(UTC)) for n in (1, 2, 3)])

    async def scenario() -> tuple[list[tuple[int, str]], int, int]:
        astore = AsyncStore(store)
        daemon = Daemon(crawl, store=astore)
        web = WebServer("127.0.0.1:0", health=daemon.health, metrics=lambda: b"")
        ticker = Ticker()
        ticking = asyncio.create_task(ticker.run())
        assert await web.start()
        try:
            own_postgres.freeze()
            run = context_for(astore, crawl).run()
            draining = asyncio.create_task(drain(run, stop=asyncio.Event(), workers=1))
            answers = []
            async with httpx.AsyncClient(timeout=PATIENCE_S) as client:
                for _ in range(2):  # the second while the first probe is still stuck
                    answer = await client.get(f"http://127.0.0.1:{web.port}/healthz")
                    answers.append((answer.status_code, answer.text))
            assert not draining.done()
            ticks_while_stopped = ticker.ticks
            own_postgres.thaw()
            processed = await asyncio.wait_for(draining, PATIENCE_S)
            return answers, ticks_while_stopped, processed
        finally:
            own_postgres.thaw()
            ticking.cancel()
            await web.stop()
            astore.close()

    try:
        answers, ticks, processed = asyncio.run(scenario())
    finally:
        store.close()
    for status, text in answers:
        assert status == 503 and "database timeout" in text, text
    assert ticks > 0
    assert processed == 3


def test_the_probe_names_a_held_lock_and_a_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "probe.db"
    engine = db.make_engine(crawl_settings(url=f"sqlite:///{path}").database)
    db.upgrade(engine)
    assert db.probe(engine, lock_wait_s=0.05) == "ok"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert db.probe(engine, lock_wait_s=0.05) == "locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert db.probe(engine, lock_wait_s=0.05) == "ok"
    engine.dispose()
    gone = db.make_engine(crawl_settings(url="postgresql+psycopg://u@127.0.0.1:1/none").database)
    assert db.probe(gone, lock_wait_s=0.05) == "unreachable"


def test_the_archive_view_reads_the_database_off_the_event_loop(store: Store) -> None:
    """Its pages are plain functions: Starlette runs them on its worker threads, never on the loop
    (a coroutine page reading the ``Reader`` would block the daemon's loop, /healthz included)."""
    from starlette.routing import Mount, Route

    from service.app.web.app import archive_app

    app = archive_app(crawl_settings(), store.reader())
    pages, todo = [], list(app.routes)
    while todo:
        route = todo.pop()
        if isinstance(route, Mount):
            todo.extend(route.routes or [])
        elif isinstance(route, Route):
            pages.append(route)
    assert len(pages) > 10
    coroutines = [r.path for r in pages if asyncio.iscoroutinefunction(r.endpoint)]
    assert coroutines == []


@pytest.mark.postgres
def test_postgresql_connections_carry_the_statement_timeout_and_keepalives(postgres_db_url: str) -> None:
    engine = db.make_engine(crawl_settings(url=postgres_db_url, statement_timeout_s=2.5).database)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "2500ms"
            params = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
        assert params.get("keepalives") == "1" and params.get("keepalives_idle") == str(db.KEEPALIVE_IDLE_S)
    finally:
        engine.dispose()
    off = db.make_engine(
        crawl_settings(url=postgres_db_url, statement_timeout_s=0, tcp_keepalives=False).database
    )
    try:
        with off.connect() as conn:
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "0"
    finally:
        off.dispose()


def test_a_closed_async_store_refuses_at_once_and_the_loop_cannot_block_on_it(store: Store) -> None:
    async def scenario() -> None:
        astore = AsyncStore(store)
        assert isinstance(await astore.frontier_counts(), dict)
        with pytest.raises(RuntimeError, match="block the event loop"):
            astore.write_blocking(store.frontier_counts)
        astore.close()
        with pytest.raises(StoreError, match="closed"):
            await asyncio.wait_for(astore.frontier_counts(), PATIENCE_S)

    asyncio.run(scenario())
