"""The one routine that reads a split article (``crawl.pages.read_article``), over each source."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from service.crawl.pages import MAX_PAGES, LivePages, Page, complete, read_article
from service.crawl.parse import _parse_url, parse_file
from service.settings import load_settings

SETTINGS = load_settings(environ={})
BASE = "https://www.jsw.com.cn/2026/1110/1880001"
PARAGRAPH = "镇江市今天召开会议，部署下一阶段的城市更新工作，要求各地各部门抓好落实，确保各项任务按期完成。"


def html(n: int, *, pages: int, printed: str = "2026-11-09 08:00") -> bytes:
    """Page ``n`` of an article of ``pages`` pages; every page links every other (a pager)."""
    links = "".join(
        f'<a href="/2026/1110/1880001{"" if i == 1 else f"_{i}"}.shtml">{i}</a>' for i in range(1, pages + 1)
    )
    body = "".join(f"<p>第{n}页 {PARAGRAPH}{k}</p>" for k in range(4))
    return (
        f"<html><head><title>城市更新工作会议召开_金山网</title></head><body>"
        f"<div class='article'><h1>城市更新工作会议召开</h1>"
        f"<div class='meta'>发布时间：{printed}</div><div id='article-content'>{body}</div>"
        f"<div class='page-nav'>{links}</div></div></body></html>"
    ).encode()


def url(n: int) -> str:
    return f"{BASE}.shtml" if n == 1 else f"{BASE}_{n}.shtml"


@dataclass
class Pager:
    """A page source that serves any page of a ``pages``-page article and counts what it gave."""

    pages: int
    served: list[str]

    async def page(self, address: str) -> Page:
        self.served.append(address)
        n = 1 if address == url(1) else int(address.rsplit("_", 1)[1].split(".")[0])
        return Page(address, html(n, pages=self.pages), "text/html; charset=utf-8")


def test_a_split_article_is_read_whole_in_page_order() -> None:
    source = Pager(3, [])
    article = complete(
        read_article(Page(url(1), html(1, pages=3)), source, SETTINGS.profile, fetched_on=None)
    )
    assert source.served == [url(2), url(3)]
    assert [p[:3] for p in article.body_text.split("\n")][::4] == ["第1页", "第2页", "第3页"]


def test_a_pager_that_runs_on_is_cut_at_max_pages() -> None:
    source = Pager(MAX_PAGES + 15, [])
    complete(
        read_article(Page(url(1), html(1, pages=MAX_PAGES + 15)), source, SETTINGS.profile, fetched_on=None)
    )
    assert len(source.served) == MAX_PAGES
    assert source.served[-1] == url(MAX_PAGES + 1)


def test_a_lone_page_reads_no_further_pages() -> None:
    article = complete(read_article(Page(url(1), html(1, pages=3)), None, SETTINGS.profile, fetched_on=None))
    assert "第2页" not in article.body_text


def test_the_bounded_read_gives_what_the_inline_read_gives() -> None:
    first = Page(url(1), html(1, pages=2))
    inline = complete(read_article(first, Pager(2, []), SETTINGS.profile, fetched_on=None))
    bounded = asyncio.run(read_article(first, Pager(2, []), SETTINGS.profile, fetched_on=None, bounded=True))
    assert bounded == inline


def test_complete_refuses_a_source_that_waits() -> None:
    class Slow:
        async def page(self, address: str) -> Page:
            await asyncio.sleep(0)
            return Page(address, html(2, pages=2))

    with pytest.raises(RuntimeError, match="waited"):
        complete(read_article(Page(url(1), html(1, pages=2)), Slow(), SETTINGS.profile, fetched_on=None))


@dataclass
class Fetched:
    url: str
    body: bytes
    content_type: str | None
    fetched_at: datetime
    status: int = 200


class FakeFetcher:
    def __init__(self, pages: int, fetched_at: datetime) -> None:
        self.pages, self.fetched_at, self.asked = pages, fetched_at, []

    async def fetch(self, address: str) -> Fetched:
        self.asked.append(address)
        n = 1 if address == url(1) else int(address.rsplit("_", 1)[1].split(".")[0])
        printed = "2026-11-20 08:00"  # after the fetch: no publication date can be
        return Fetched(address, html(n, pages=self.pages, printed=printed), "text/html", self.fetched_at)


def test_parse_url_dates_a_page_as_the_crawl_does(tmp_path: Path) -> None:
    """``parse URL`` passes the fetch day to extraction, as the crawl does: a printed date later than
    the fetch is no publication date. A file has no fetch day, so the printed date stands."""
    fetcher = FakeFetcher(2, datetime(2026, 11, 10, 4, 0, tzinfo=UTC))
    line = asyncio.run(_parse_url(fetcher, url(1), SETTINGS))
    assert fetcher.asked == [url(1), url(2)]
    assert not (line.get("published_at") or "").startswith("2026-11-20")
    saved = tmp_path / "page.html"
    saved.write_bytes(html(1, pages=1, printed="2026-11-20 08:00"))
    assert parse_file(str(saved), SETTINGS, url=url(1))["published_at"].startswith("2026-11-20")


def test_live_pages_hand_each_response_to_the_crawl_first() -> None:
    seen: list[str] = []
    fetcher = FakeFetcher(3, datetime(2026, 11, 21, tzinfo=UTC))

    async def record(response: Any) -> None:
        seen.append(response.url)

    source = LivePages(fetcher, record)
    asyncio.run(
        read_article(Page(url(1), html(1, pages=3)), source, SETTINGS.profile, fetched_on=date(2026, 11, 21))
    )
    assert seen == [url(2), url(3)]
