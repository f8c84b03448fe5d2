"""Each job of the daemon counts into its own run (issue #11 item 4): the interval drain, running
beside the discovery cycles on one process, never adds its counts to a cycle nor writes a cycle's
run id on its fetch rows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from service.app.daemon import Daemon
from service.crawl.context import CrawlContext
from service.crawl.cycle import Cycles
from service.crawl.metrics import Metrics
from service.settings import Settings, load_settings
from service.store import AsyncStore, NewUrl, Store
from service.store.schema import fetches, urls

BASE = "https://www.jsw.com.cn"
PARAGRAPH = "镇江市今天召开会议，部署下一阶段的城市更新工作，要求各地各部门抓好落实，确保各项任务按期完成。"


def article_html(n: int) -> bytes:
    body = "".join(f"<p>{PARAGRAPH}（{n}之{k}）</p>" for k in range(4))
    return (f"<html><head><title>第{n}篇新闻_金山网</title></head><body><div class='article'><h1>第{n}篇新闻</h1>"
            f"<div class='meta'>发布时间：2026-11-2{n} 08:00</div><div id='article-content'>{body}</div></div>"
            "</body></html>").encode()  # fmt: skip


def article_url(n: int) -> str:
    return f"{BASE}/2026/112{n}/188000{n}.shtml"


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
    """The home page lists articles 1 and 2; article 3 is reached only through the frontier."""

    async def fetch(self, url: str, **_: object) -> Answer:
        now = datetime.now(UTC)
        if url.rstrip("/") == BASE:
            links = "".join(f'<li><a href="{article_url(n)}">第{n}篇新闻</a></li>' for n in (1, 2))
            return Answer(url, f"<html><body><ul>{links}</ul></body></html>".encode(), now)
        n = int(url.rsplit("/", 1)[1][6])
        return Answer(url, article_html(n), now)


def settings_for_test() -> Settings:
    return load_settings(environ={}, overrides={"site": {"start_urls": ["/"]}, "epaper": {"enabled": False}})


def test_the_interval_drain_counts_into_a_run_of_its_own(store: Store) -> None:
    settings = settings_for_test()

    async def scenario() -> int:
        astore = AsyncStore(store)
        context = CrawlContext(settings=settings, store=astore, fetcher=Site(), metrics=Metrics(), worker="test:1")
        daemon = Daemon(settings, store=astore)
        cycles = Cycles(context, stop=daemon.stop, halt=daemon.halt)
        outcome = await daemon.cycle(cycles, full=True)
        assert outcome.answered
        await astore.add_urls([NewUrl(article_url(3), "article", None, datetime.now(UTC))])
        await daemon._drain(cycles)
        assert outcome.run.run_id is not None
        assert outcome.run.stats.counts["new"] == 2  # the drain's article did not land in the cycle
        astore.close()
        return outcome.run.run_id

    cycle_id = asyncio.run(scenario())
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(urls.c.url, fetches.c.run_id).join(fetches, fetches.c.url_id == urls.c.id)
        ).all()
    by_url = {url: run_id for url, run_id in rows}
    assert by_url[article_url(1)] == by_url[article_url(2)] == cycle_id
    assert by_url[article_url(3)] is None
    recorded = next(r for r in store.last_runs(5) if r["id"] == cycle_id)
    assert recorded["counters"]["new"] == 2 and recorded["status"] == "ok"
