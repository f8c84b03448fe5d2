"""Discovery decisions as plain functions: link classification, paging rules, poll interval, dates."""

from __future__ import annotations

from datetime import date

from service.crawl.alarm import evaluate, from_counters, to_counters
from service.crawl.discover import (
    BackfillPaging,
    SteadyPaging,
    classify,
    days,
    issue_url,
    next_list_page,
    next_poll_minutes,
)
from service.extract.listing import page_links
from service.model import Link
from service.settings import load_settings
from service.site.urls import shapes_of

SETTINGS = load_settings(environ={})

LIST_PAGE = """<html><body>
<a href="/">首页</a> <a href="/news/zjxw/index.shtml">镇江新闻</a> <a href="http://bbs.jsw.com.cn/">金山论坛</a>
<ul><li><a href="/2026/1125/1963001.shtml">镇江召开会议</a></li>
<li><a href="https://www.jsw.com.cn/2026/1124/1962990.shtml?from=app">西津渡夜游</a></li>
<li><a href="http://news.jsw.com.cn/zjnews/2012-10/15/content_1005008.htm">旧闻</a></li>
<li><a href="https://www.example.com/2026/1125/1.shtml">外站</a></li></ul>
<a href="index_2.shtml">2</a> <a href="index_2.shtml">下一页</a>
<a href="http://szb.jsw.com.cn/ZJRB/PC/layout/202611/25/node_01.html">数字报</a>
<a href="javascript:void(0)">打印</a></body></html>"""


def test_links_are_sorted_by_pattern_within_allowed_hosts() -> None:
    url = "https://www.jsw.com.cn/news/zjxw/index.shtml"
    links = classify(page_links(LIST_PAGE.encode(), url), SETTINGS)
    assert [link.url for link in links.articles] == [
        "https://www.jsw.com.cn/2026/1125/1963001.shtml",
        "https://www.jsw.com.cn/2026/1124/1962990.shtml?from=app",
        "http://news.jsw.com.cn/zjnews/2012-10/15/content_1005008.htm",
    ]
    assert "https://www.jsw.com.cn/news/zjxw/index.shtml" in [h.url for h in links.hubs]
    assert [n.url for n in links.next_pages] == ["https://www.jsw.com.cn/news/zjxw/index_2.shtml"]
    assert [p.url for p in links.epaper_pages] == [
        "http://szb.jsw.com.cn/ZJRB/PC/layout/202611/25/node_01.html"
    ]
    every = [
        link.url
        for group in (links.articles, links.hubs, links.next_pages, links.epaper_pages)
        for link in group
    ]
    assert not any("bbs.jsw.com.cn" in u or "example.com" in u for u in every)


def test_the_root_of_another_allowed_host_is_no_channel_list() -> None:
    page = """<a href="/">首页</a> <a href="https://jsw.com.cn/">金山网</a> <a href="http://szb.jsw.com.cn/">数字报</a>
    <a href="http://news.jsw.com.cn/">新闻</a> <a href="http://news.jsw.com.cn/zjnews/index.shtml">旧频道</a>"""
    url = "https://www.jsw.com.cn/news/zjxw/index.shtml"
    hubs = [h.url for h in classify(page_links(page.encode(), url), SETTINGS).hubs]
    assert hubs == [
        "https://www.jsw.com.cn/",
        "https://jsw.com.cn/",
        "http://news.jsw.com.cn/zjnews/index.shtml",
    ]


def test_no_paper_means_no_epaper_host() -> None:
    assert "szb.jsw.com.cn" in SETTINGS.fetchable_hosts
    for epaper in ({"papers": []}, {"enabled": False}):
        settings = load_settings(environ={}, overrides={"epaper": epaper})
        assert "szb.jsw.com.cn" not in settings.fetchable_hosts
        layout = "http://szb.jsw.com.cn/ZJRB/PC/layout/202611/25/node_01.html"
        links = classify(
            page_links(f'<a href="{layout}">数字报</a>'.encode(), "https://www.jsw.com.cn/"), settings
        )
        assert links.epaper_pages == () and links.hubs == ()


def test_next_list_page_goes_forward_only() -> None:
    nexts = [
        Link("https://x/news/index_3.shtml"),
        Link("https://x/news/index_2.shtml"),
        Link("https://x/news/index.shtml"),
    ]
    shapes = shapes_of(SETTINGS.profile)
    assert next_list_page("https://x/news/index.shtml", nexts, shapes) == "https://x/news/index_2.shtml"
    assert next_list_page("https://x/news/index_3.shtml", nexts, shapes) is None


def test_steady_paging_stops_where_the_list_reaches_known_articles() -> None:
    rule = SteadyPaging(max_pages=10)
    assert rule.follow(page_number=1, articles=20, new=3, dates=[], oldest_new=True)
    assert not rule.follow(page_number=1, articles=20, new=3, dates=[], oldest_new=False)
    assert not rule.follow(page_number=2, articles=20, new=0, dates=[], oldest_new=False)
    assert not rule.follow(page_number=10, articles=20, new=20, dates=[], oldest_new=True)


def test_steady_paging_tolerates_a_few_known_links() -> None:
    rule = SteadyPaging(max_pages=10)
    # a pinned headline (or a "popular" box) at the bottom of a page of news does not end the walk
    assert rule.follow(page_number=3, articles=20, new=19, dates=[], oldest_new=False)
    assert rule.follow(page_number=3, articles=20, new=10, dates=[], oldest_new=False)
    assert not rule.follow(page_number=3, articles=20, new=9, dates=[], oldest_new=False)


def test_backfill_paging_stops_when_the_page_is_older_than_since() -> None:
    rule = BackfillPaging(since=date(2026, 10, 1))
    assert rule.follow(
        page_number=5, articles=20, new=0, dates=[date(2026, 10, 3), date(2026, 9, 28)], oldest_new=False
    )
    assert not rule.follow(page_number=6, articles=20, new=20, dates=[date(2026, 9, 30)], oldest_new=True)
    assert not rule.follow(page_number=6, articles=0, new=0, dates=[], oldest_new=False)


def test_poll_interval_adapts_within_bounds() -> None:
    kw = {"least": 10.0, "most": 60.0, "target": 5}
    assert next_poll_minutes(10, 0, **kw) == 15
    assert next_poll_minutes(60, 0, **kw) == 60
    assert next_poll_minutes(30, 8, **kw) == 20
    assert next_poll_minutes(10, 9, **kw) == 10
    assert 10 <= next_poll_minutes(20, 2, **kw) <= 30


def test_epaper_issue_url_and_days() -> None:
    assert (
        issue_url(SETTINGS, "ZJRB", date(2024, 6, 3))
        == "http://szb.jsw.com.cn/ZJRB/PC/layout/202406/03/node_01.html"
    )
    assert days(date(2024, 6, 1), date(2024, 6, 3)) == [date(2024, 6, 3), date(2024, 6, 2), date(2024, 6, 1)]


def test_template_alarm_fires_on_a_drop_and_on_a_generic_takeover() -> None:
    history = [{"title": 1.0, "reporters": 0.9, "generic_share": 0.05}] * 5
    alarm = SETTINGS.alarm
    assert (
        evaluate({"title": 1.0, "reporters": 0.85, "generic_share": 0.06}, history, alarm, articles=50) == []
    )
    assert evaluate({"title": 1.0, "reporters": 0.3, "generic_share": 0.06}, history, alarm, articles=50) == [
        "reporters"
    ]
    assert evaluate({"title": 1.0, "reporters": 0.9, "generic_share": 0.6}, history, alarm, articles=50) == [
        "generic_share"
    ]
    assert evaluate({"title": 0.0}, history, alarm, articles=2) == []  # too few articles to judge
    assert from_counters(to_counters({"title": 0.875})) == {"title": 0.875}


def test_page_hrefs_reads_urls_without_parsing() -> None:
    import re

    from service.extract.listing import page_hrefs

    raw = LIST_PAGE.encode("gb18030")
    got = page_hrefs(
        raw, "https://www.jsw.com.cn/news/zjxw/index.shtml", href_filter=re.compile(rb"\.s?html?(?:[?#]|$)")
    )
    assert "https://www.jsw.com.cn/2026/1125/1963001.shtml" in got
    assert (
        "https://www.jsw.com.cn/news/zjxw/index_2.shtml" in got
        and got.count("https://www.jsw.com.cn/news/zjxw/index_2.shtml") == 1
    )
    assert not any(u.startswith("javascript") for u in got)
