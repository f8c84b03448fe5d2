"""The archive view for research, in a real headless Chromium: people by pinyin with roles and
counts and a search box, "articles by NAME" on the search page, result counts, partial credit
names, the days around a day, newer and older pages, copies folded under their original.

An archive written for the purpose (names whose code-point and pinyin orders differ, a channel of
three pages, a syndicated copy and a near copy), stored through ``Store`` as the crawl stores, and
the archive view served by uvicorn on 127.0.0.1. Screenshots go to ``tests/artifacts/research-*``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import uvicorn

from service.app.web.app import create_app
from service.model import Credits
from service.settings import DatabaseSettings, DedupSettings, load_settings
from service.store import canonicalizer, db
from service.store.browse import Reader
from service.store.repo import Store
from tests.e2e.test_web_browser import browser, shot
from tests.e2e.webarchive import WebArchive
from tests.integration.store.builders import CST, SEEN, chinese_text, make_article
from tests.integration.store.test_store_articles import near_copy

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the module's Chromium, shared

#: reporters in code-point order (何 冯 刘 吴 曾); by pinyin: 冯 何 刘 王(the editor) 吴 曾
REPORTERS = ("何平", "冯军", "刘洋", "吴敏", "曾明")
#: days of March 2026 with articles: none on the 4th
DAYS = (1, 2, 3, 5, 6)


@dataclass
class Research:
    base: str
    original: int
    copy: int
    near_copy: int


def _fill(store: Store) -> Research:
    def put(n: int, *, day: int, hour: int, title: str, channel: str = "镇江新闻", text: str | None = None,
            reporter: str | None = None) -> int:  # fmt: skip
        article = make_article(
            f"https://www.jsw.com.cn/2026/03{day:02d}/19{n:05d}.shtml",
            text=text,
            seed=3000 + n,
            title=title,
            site_id=f"19{n:05d}",
            channel=channel,
            published_at=datetime(2026, 3, day, hour, n % 60, tzinfo=CST),
            credits=Credits(reporters=(reporter or REPORTERS[n % len(REPORTERS)],), editors=("王五",)),
        )
        return store.store_article(article, url_id=None, fetch_id=None, seen_at=SEEN).article_id

    for n in range(50):
        put(n, day=DAYS[n % len(DAYS)], hour=7 + n % 12, title=f"镇江新闻第{n}篇")
    text = chinese_text(4242, 1200)
    original = put(100, day=6, hour=20, title="西津渡古街迎来客流高峰", text=text, reporter="刘洋")
    # copies credit 刘洋 too: a copy's credit counts nowhere (its original's does)
    copy = put(101, day=6, hour=22, title="西津渡古街迎来客流高峰（转载）", text=text, channel="转载",
               reporter="刘洋")  # fmt: skip
    near = put(102, day=6, hour=23, channel="转载", title="西津渡古街客流高峰", reporter="刘洋",
               text=near_copy(text, store.dedup.simhash_max_distance)[0])  # fmt: skip
    put(103, day=6, hour=21, title="转载的一篇原创", channel="转载")
    store.refresh_search()
    return Research("", original, copy, near)


@pytest.fixture(scope="session")
def web(web_archive: WebArchive) -> WebArchive:
    """The replica's archive shared with the other web view's tests (one xdist group)."""
    return web_archive


@pytest.fixture(scope="module")
def research(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Research]:
    tmp = tmp_path_factory.mktemp("research")
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp / 'archive.db'}"))
    db.upgrade(engine)
    store = Store(engine, DedupSettings(), canonicalize=canonicalizer(load_settings(environ={})))
    found = _fill(store)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(create_app(Reader(engine), tmp), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):  # bounded: the server starts within a few hundred milliseconds
        if server.started:
            break
        threading.Event().wait(0.05)
    assert server.started, "uvicorn did not start"
    found.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield found
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    yield context.new_page()
    context.close()


def names_in(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("table.people td:first-child a").all_inner_texts()]


def test_people_by_pinyin_with_roles_counts_and_a_search_box(page: Any, research: Research) -> None:
    page.goto(research.base + "/")
    page.get_by_role("link", name="People").click()
    page.wait_for_url("**/people")
    assert names_in(page) == ["冯军", "何平", "刘洋", "王五", "吴敏", "曾明"]
    row = page.locator("table.people tr", has_text="刘洋")
    assert row.locator("td.n").inner_text() == "11"  # 10 of the 50, and the original (n=100 → 刘洋)
    assert "记者 reporters 11" in row.inner_text()
    assert "编辑 editors 52" in page.locator("table.people tr", has_text="王五").inner_text()
    shot(page, "research-people")
    page.fill("#pq", "洋")
    page.keyboard.press("Enter")
    page.wait_for_url("**/people?q=*")
    assert names_in(page) == ["刘洋"]
    page.fill("#pq", "zm")  # initials of 曾明 (zēng míng)
    page.keyboard.press("Enter")
    page.wait_for_url("**/people?q=zm*")
    assert names_in(page) == ["曾明"]
    page.locator("table.people a", has_text="曾明").first.click()
    page.wait_for_url("**/people/*")
    assert page.locator("h1").inner_text() == "曾明"


def test_a_name_in_search_offers_their_articles_and_counts_show(page: Any, research: Research) -> None:
    page.goto(research.base + "/")
    page.fill("#q", "刘洋")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    offer = page.get_by_role("link", name="Articles by 刘洋")
    assert offer.is_visible()
    assert "0 articles contain these words" in page.locator("p.count").inner_text()  # nor credit lines
    # but the name finds their articles, through their credits
    assert "11 credited" in page.locator("aside.named").inner_text()
    assert page.locator("aside.named ol.articles a.title").count() == 5
    shot(page, "research-search-name")
    offer.click()
    page.wait_for_url("**/people/*")
    assert page.locator("h1").inner_text() == "刘洋"
    assert page.locator("ol.articles li a.title").count() == 11
    # a part of a name in the reporter filter
    page.goto(research.base + "/search")
    page.locator("input[name=reporter]").fill("刘")
    page.locator("form.filters button").click()
    assert "11 articles contain these words" in page.locator("p.count").inner_text()
    page.goto(research.base + "/search?q=镇江新闻")
    assert "50 articles contain these words" in page.locator("p.count").inner_text()
    assert page.locator("ol.hits > li").count() == 20
    page.get_by_role("link", name="Next →").click()
    assert page.locator("ol.hits").get_attribute("start") == "21"


def test_copies_fold_under_their_original_in_search_lists_and_counts(page: Any, research: Research) -> None:
    page.goto(research.base + "/search?q=西津渡")
    titles = page.locator("ol.hits a.title").all_inner_texts()
    assert titles == ["西津渡古街迎来客流高峰"], "one result for the original and its two copies"
    assert "1 article contains these words" in page.locator("p.count").inner_text()
    shot(page, "research-search-copies")
    page.locator("ol.hits a.copies").click()
    page.wait_for_url(f"**/articles/{research.original}#copies")
    copies = page.locator("ul.copies a")
    assert sorted(copies.all_inner_texts()) == ["西津渡古街客流高峰", "西津渡古街迎来客流高峰（转载）"]
    shot(page, "research-article-copies")
    # the channel of the copies: its count is what its page lists
    page.goto(research.base + "/channels")
    entry = page.locator("ul.plain li", has_text="转载")
    assert entry.locator(".meta").inner_text() == "1"
    entry.locator("a").click()
    assert page.locator("ol.articles a.title").all_inner_texts() == ["转载的一篇原创"]


def test_days_step_to_the_days_around_and_lists_page_both_ways(page: Any, research: Research) -> None:
    page.goto(research.base + "/days/2026-03-05")
    page.locator("a.prev-day").click()
    page.wait_for_url("**/days/2026-03-03")
    page.locator("a.next-day").click()
    page.wait_for_url("**/days/2026-03-05")  # the 4th has nothing: skipped
    shot(page, "research-day")
    page.goto(research.base + "/channels/镇江新闻?limit=20")
    first = page.locator("ol.articles a.title").all_inner_texts()
    assert page.locator("a.newer").count() == 0 and len(first) == 20
    page.locator("a.older").click()
    second = page.locator("ol.articles a.title").all_inner_texts()
    page.locator("a.older").click()
    third = page.locator("ol.articles a.title").all_inner_texts()
    assert page.locator("a.older").count() == 0 and len(third) == 11  # 50 + the original
    assert len(set(first + second + third)) == 51
    page.screenshot(path=str(shot(page, "research-channel-older")), full_page=True)
    page.locator("a.newer").click()
    assert page.locator("ol.articles a.title").all_inner_texts() == second
    page.locator("a.newer").click()
    assert page.locator("ol.articles a.title").all_inner_texts() == first
    assert page.locator("a.newer").count() == 0


def test_the_home_page_counts_use_the_stats_names(page: Any, research: Research) -> None:
    page.goto(research.base + "/")
    numbers = dict(
        reversed(t.split("\n")) for t in page.locator("section.numbers div").all_inner_texts()
    )  # "52\narticles" → {"articles": "52"}
    assert numbers["articles"] == "52" and numbers["copies_exact"] == "1" and numbers["copies_near"] == "1"
    shot(page, "research-home")


def test_the_replicas_people_read_in_pinyin_order(page: Any, web: WebArchive) -> None:
    """On the archive the crawl filled from the replica: the order a Chinese index has, roles and
    counts, and a reporter's name in search leading to their articles (the docs' screenshots)."""
    from service.text.pinyin import sort_key

    page.goto(web.base + "/people")
    shown = names_in(page)
    assert len(shown) == 50 and shown == sorted(shown, key=sort_key) and shown != sorted(shown)
    assert page.locator("a.older").count() == 1
    shot(page, "research-replica-people")
    reporter = next(r for r in web.rows if r["reporters"] and not r["duplicate_of"])["reporters"][0]
    page.goto(web.base + "/")
    page.fill("#q", reporter)
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    shot(page, "research-replica-search")
    assert page.locator("aside.named ol.articles a.title").count() >= 1
    page.get_by_role("link", name=f"Articles by {reporter}").click()
    page.wait_for_url("**/people/*")
    titles = set(page.locator("ol.articles a.title").all_inner_texts())
    assert {r["title"] for r in web.rows if reporter in r["reporters"] and not r["duplicate_of"]} <= titles
