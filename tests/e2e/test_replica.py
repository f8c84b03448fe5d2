"""Tests of the site replica itself (tests/e2e/replica): the ground truth the end-to-end tests and the
crawl benchmark rely on must match what the server actually serves, or their failures mean nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from html import escape
from itertools import combinations, pairwise
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from service.settings import load_settings
from service.site.urls import canonical_url
from tests.e2e.replica import Replica, ReplicaProcess, ReplicaServer
from tests.e2e.replica.catalog import SHANGHAI, SiteEntry
from tests.e2e.replica.settings import toml
from tests.e2e.replica.site import Site

pytestmark = pytest.mark.e2e

SEED = 11
ARTICLE = re.compile(r"^/(?:\d{4}/\d{4}/\d+(?:_\d+)?\.shtml|\d{4}-\d{2}/\d{2}/content_\d+\.htm|ZJRB/PC/content/\d{6}/\d{2}/content_\d+\.html)$")
SKIP = ("/__control/", "/search/", "/uploads/", "/images/", "/css/", "/about/", "/contact/")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Replica, ReplicaServer, httpx.Client]]:
    """One read-only replica for the tests that do not change it."""
    replica = Replica(seed=SEED)
    with ReplicaServer(replica) as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield replica, server, client


@pytest.fixture
def fresh() -> Iterator[tuple[Replica, ReplicaServer, httpx.Client]]:
    """A small replica of its own, for tests that edit, delete, publish or inject faults."""
    replica = Replica(seed=SEED + 1, n_articles=60, days=10, epaper_days=2)
    with ReplicaServer(replica, log_size=500) as server, httpx.Client(base_url=server.base_url, timeout=5) as client:
        yield replica, server, client


def text_of(resp: httpx.Response) -> str:
    """Decode as a careful client must: gb2312 and gbk declarations read as GB18030."""
    if b"charset=gb2312" in resp.content[:400]:
        return resp.content.decode("gb18030")
    return resp.content.decode("utf-8")


# -- the generator ------------------------------------------------------------------------------


def test_same_seed_same_site_and_another_seed_another() -> None:
    a, b, c = Replica(seed=SEED), Replica(seed=SEED), Replica(seed=SEED + 1)
    assert list(a.articles()) == list(b.articles())
    assert [t["title"] for t in a.articles()] != [t["title"] for t in c.articles()]
    paths = ["/", "/news/zjxw/index_2.shtml", "/archive/index.htm", next(iter(a.special))]
    paths += [urlsplit(t["url"]).path for t in list(a.articles())[::37]]
    site_a, site_b = Site(a), Site(b)
    for path in paths:
        assert site_a.resolve(path).body == site_b.resolve(path).body, path


def test_default_size_and_shape() -> None:
    r = Replica(seed=SEED)
    site = [t for t in r.articles() if re.search(r"/\d{4}/\d{4}/\d+\.shtml$", t["url"])]
    days = {t["published_at"][:10] for t in site}
    assert len(site) >= 200 and len(days) >= 30
    kinds = {r.site_entry(i).template for i in range(len(site))}
    assert kinds == {"cmstop", "generic"}
    assert any(r.site_entry(i).pages == 2 for i in range(len(site)))
    ids = [int(t["site_id"]) for t in site]
    assert any(x > y for x, y in pairwise(ids)), "ids must not rise strictly"
    assert sum(x < y for x, y in pairwise(ids)) > 0.9 * len(ids)
    for t in site:
        assert datetime.fromisoformat(t["published_at"]).utcoffset() == SHANGHAI.utcoffset(datetime(2026, 10, 1))
        assert t["title"] and t["body_text"] and t["reporters"] and t["editors"]
        assert "金山网讯" not in t["body_text"] and "责任编辑" not in t["body_text"]


def test_twenty_thousand_articles_are_lazy() -> None:
    r = Replica(seed=SEED, n_articles=20_000, days=90)
    assert r.live_count() == 20_000
    site = Site(r, cache_size=16)
    last = r.site_entry(19_999)
    page = site.resolve(last.path)
    assert page.status == 200 and r.current(("site", 19_999)).title.encode() in page.body
    assert r.story.cache_info().currsize < 100  # nothing was generated in bulk


def simhash(text: str, k: int = 4) -> int:
    """64-bit SimHash of character k-shingles (the dedup stage's idea, reimplemented here)."""
    weights = [0] * 64
    for i in range(max(len(text) - k + 1, 1)):
        h = int.from_bytes(hashlib.md5(text[i : i + k].encode()).digest()[:8], "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def test_unrelated_articles_are_not_near_duplicates_and_reprints_are_exact() -> None:
    r = Replica(seed=SEED)
    truths = {t["url"]: t for t in r.articles()}
    hashes = [simhash(re.sub(r"\W", "", t["body_text"])) for t in list(truths.values())[:150]]
    closest = min(bin(a ^ b).count("1") for a, b in combinations(hashes, 2))
    assert closest > 3
    dups = r.duplicates()
    assert len(dups) == len(r.issues)
    for paper_url, site_url in dups:
        assert truths[paper_url]["body_text"] == truths[site_url]["body_text"]
        assert truths[paper_url]["lead"] == "本报讯"


# -- what is served matches the ground truth ----------------------------------------------------


def test_every_article_serves_its_ground_truth(served: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, _, client = served
    gbk_only = 0
    for truth in replica.articles():
        entry = replica.entry_at(truth["url"])
        paths = [urlsplit(truth["url"]).path]
        if isinstance(entry, SiteEntry) and entry.pages > 1:
            paths.append(entry.page_path(2))
        html = ""
        for path in paths:
            resp = client.get(path)
            assert resp.status_code == 200, path
            assert resp.headers["etag"] and resp.headers["last-modified"]
            html += text_of(resp)
        assert escape(truth["title"], quote=False) in html
        for para in truth["body_text"].split("\n"):
            assert escape(para, quote=False) in html, (truth["url"], para)
        for name in truth["reporters"] + truth["editors"] + truth["photographers"]:
            assert name in html
        for image in truth["images"]:
            assert urlsplit(image["url"]).path in html and escape(image["caption"], quote=False) in html
        if "charset=gb2312" in html:
            gbk_only += _not_gb2312(resp.content)
            assert f"{truth['published_at'][:10]}" in html
        elif "/ZJRB/" in truth["url"]:
            assert f"<date>{truth['published_at'][:10]} 00:00:00:0</date>" in html and truth["channel"] in html
        else:
            stamp = datetime.fromisoformat(truth["published_at"])
            assert f"{stamp:%Y-%m-%d %H:%M}" in html and truth["channel"] in html
    assert gbk_only >= 1, "old pages must contain characters outside GB2312"


def _not_gb2312(raw: bytes) -> bool:
    try:
        raw.decode("gb2312")
    except UnicodeDecodeError:
        return True
    return False


def test_traps_and_aliases(served: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = served
    reasons = {urlsplit(u).path: why for u, why in replica.not_articles().items()}
    for path, why in reasons.items():
        resp = client.get(path)
        assert resp.status_code == 200 and ARTICLE.match(path)
        assert ("页面不存在" in resp.text) == (why == "not_found")
    truth = next(t for t in replica.articles() if replica.aliases(t["url"]))
    canonical = client.get(truth["url"])
    for alias in replica.aliases(truth["url"]):
        resp = client.get(alias)
        if resp.status_code == 301:
            assert resp.headers["location"] == truth["url"]
        else:
            assert resp.content == canonical.content
    assert client.get("/2026/1001/1.shtml").status_code == 404
    robots = client.get("/robots.txt").text
    assert "Disallow: /search/" in robots and "Disallow: /__control/" in robots and "Crawl-delay" not in robots
    assert "Crawl-delay: 2" in Site(Replica(crawl_delay=2)).resolve("/robots.txt").body.decode()
    home = client.get("/").text
    assert "http://bbs.jsw.com.cn/" in home and "http://www.zhenjiang.gov.cn/" in home
    assert server.url(Site(replica).epaper_href()) in home


def crawl(client: httpx.Client, base: str, limit: int = 3000) -> tuple[set[str], set[str]]:
    """Follow every same-host link from "/" (breadth first); return (article paths, all paths seen)."""
    queue, seen, articles = ["/"], {"/"}, set()
    while queue and len(seen) < limit:
        path = queue.pop(0)
        resp = client.get(path)
        if resp.status_code == 301:
            target = urlsplit(resp.headers["location"]).path
            if target not in seen:
                seen.add(target)
                queue.append(target)
            continue
        if resp.status_code != 200 or not resp.headers["content-type"].startswith("text/html"):
            continue
        if ARTICLE.match(path) and "页面不存在" not in (html := text_of(resp)):
            articles.add(re.sub(r"_\d+\.shtml$", ".shtml", path))
        html = text_of(resp)
        for href in re.findall(r'href="([^"]+)"', html):
            url = urljoin(base.rstrip("/") + path, href)
            parts = urlsplit(url)
            if url.startswith(base) and not parts.path.startswith(SKIP) and parts.path not in seen:
                seen.add(parts.path)
                queue.append(parts.path)
    return articles, seen


def test_links_reach_every_article(served: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = served
    found, seen = crawl(client, server.base_url)
    expected = {urlsplit(t["url"]).path for t in replica.articles()}
    assert expected <= found | set(replica.special), sorted(expected - found)[:5]
    channel_pages = {p for p in seen if re.match(r"^/news/\w+/index_\d+\.shtml$", p)}
    assert len(channel_pages) >= 4
    lists = client.get("/news/zjxw/index.shtml").text
    assert "下一页" in lists and lists.count('<span class="date">') == 20


def test_lists_are_newest_first_and_complete(served: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, _, client = served
    dates: list[str] = []
    page, path = 1, "/news/shehui/index.shtml"
    while path:
        html = client.get(path).text
        dates += re.findall(r'<span class="date">(\d{4}-\d{2}-\d{2})</span>', html)
        nxt = re.search(r'<a href="([^"]+)">下一页</a>', html)
        path, page = (urljoin("/news/shehui/", nxt[1]) if nxt else ""), page + 1
    assert dates == sorted(dates, reverse=True)
    assert len(dates) == replica.live_count(1)


# -- conditional requests and controls ----------------------------------------------------------


def test_conditional_requests(fresh: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = fresh
    url = next(replica.articles())["url"]
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2018 00:00:00 GMT"}).status_code == 200
    home, other, same = client.get("/"), client.get("/news/jsrp/index.shtml"), client.get("/news/zjxw/")
    replica.publish(1, at=datetime(2026, 11, 20, 9, 0, tzinfo=SHANGHAI), channel=0)
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304, "others' news must not touch it"
    assert client.get("/", headers={"If-None-Match": home.headers["etag"]}).status_code == 200
    since = {"If-Modified-Since": other.headers["last-modified"]}
    assert client.get("/news/jsrp/index.shtml", headers=since).status_code == 304, "another channel"
    changed = client.get("/news/zjxw/", headers={"If-Modified-Since": same.headers["last-modified"]})
    assert changed.status_code == 200 and changed.headers["last-modified"] != same.headers["last-modified"]
    log = [r for r in server.requests if r.path == urlsplit(url).path]
    assert [r.status for r in log] == [200, 304, 200, 304, 200, 304]
    assert log[1].if_none_match == etag and log[3].if_modified_since == modified


def test_edit_changes_page_etag_and_truth(fresh: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = fresh
    url = replica.url(replica.newest(1)[0].path)
    before = client.get(url)
    truth = server.edit(url, title="镇江市区新增公共停车泊位1200个", paragraphs=["第一段更新。", "第二段更新。"])
    after = client.get(url, headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert "镇江市区新增公共停车泊位1200个" in after.text and "第二段更新。" in after.text
    assert truth == replica.expected(url) and truth["body_text"] == "第一段更新。\n第二段更新。"
    assert truth["title"] in client.get("/").text
    appended = server.edit(url)
    assert appended["body_text"].startswith(truth["body_text"] + "\n（更正")
    multi = next(replica.site_entry(i) for i in range(60) if replica.site_entry(i).pages > 1)
    shorter = server.edit(replica.url(multi.path), paragraphs=["只剩一段。", "还有一段。"])
    assert "只剩一段。" in client.get(multi.path).text and "还有一段。" in client.get(multi.page_path(2)).text
    assert shorter["body_text"] == "只剩一段。\n还有一段。"


def test_delete_and_publish(fresh: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = fresh
    victim = list(replica.articles())[-1]["url"]
    server.delete(victim)
    assert client.get(victim).status_code == 404
    assert urlsplit(victim).path not in client.get("/").text
    assert victim in replica.deleted_urls() and replica.expected(victim)["url"] == victim
    at = datetime(2026, 11, 26, 8, 30, tzinfo=SHANGHAI)
    urls = server.publish(3, at=at)
    twin = Replica(seed=SEED + 1, n_articles=60, days=10, epaper_days=2, base_url=server.base_url)
    twin.delete(victim)
    assert twin.publish(3, at=at) == urls, "published articles are reproducible"
    home = client.get("/").text
    for url in urls:
        truth = replica.expected(url)
        assert truth["published_at"] == "2026-11-26T08:30:00+08:00" and url.startswith(server.base_url)
        assert urlsplit(url).path in home and truth["title"] in client.get(url).text
    newest = replica.entry_at(urls[-1])
    assert isinstance(newest, SiteEntry)
    ch = newest.channel
    assert urlsplit(urls[-1]).path in client.get(f"/news/{['zjxw', 'shehui', 'yuqing', 'jsrp'][ch]}/index.shtml").text


def test_faults_then_recovery(fresh: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    replica, server, client = fresh
    server.fault(path="/news/zjxw/index.shtml", kind="status", status=503, times=2)
    assert [client.get("/news/zjxw/index.shtml").status_code for _ in range(3)] == [503, 503, 200]
    server.fault(path="/robots.txt", kind="status", status=429, retry_after=7, times=1)
    limited = client.get("/robots.txt")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "7"
    url = next(replica.articles())["url"]
    server.fault(path=urlsplit(url).path, kind="slow", delay=1.5, times=1)
    with pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=0.3)
    assert client.get(url).status_code == 200
    for kind in ("reset", "truncate"):
        server.clear_faults()
        server.fault(pattern=r"^/news/shehui/", kind=kind, times=1)
        with httpx.Client(base_url=server.base_url) as c, pytest.raises(httpx.TransportError):
            c.get("/news/shehui/index.shtml")
        assert client.get("/news/shehui/index.shtml").status_code == 200
    kinds = [(r.path, r.fault) for r in server.requests if r.fault]
    assert [k for _, k in kinds] == ["status", "status", "status", "slow", "reset", "truncate"]


def test_share_of_requests_fails(fresh: tuple[Replica, ReplicaServer, httpx.Client]) -> None:
    _, server, client = fresh
    server.fault(kind="status", status=500, share=0.3)
    codes = [client.get("/news/jsrp/index.shtml").status_code for _ in range(200)]
    assert 30 < codes.count(500) < 90 and codes.count(200) == 200 - codes.count(500)


def test_request_log_is_bounded() -> None:
    with ReplicaServer(Replica(n_articles=20, days=2, epaper_days=0), log_size=5) as server:
        with httpx.Client(base_url=server.base_url) as client:
            for _ in range(12):
                client.get("/")
        assert len(server.requests) == 5
        server.clear_requests()
        assert server.requests == []


def test_subprocess_with_control_endpoint() -> None:
    args = ("--seed", "5", "--articles", "40", "--days", "5", "--epaper-days", "1")
    with ReplicaProcess(*args) as proc, httpx.Client(base_url=proc.base_url, timeout=5) as client:
        assert proc.ping()
        local = Replica(seed=5, n_articles=40, days=5, epaper_days=1, base_url=proc.base_url)
        url = next(local.articles())["url"]
        assert proc.expected(url) == local.expected(url)
        proc.fault(path=urlsplit(url).path, kind="status", status=500, times=1)
        assert [client.get(url).status_code for _ in range(2)] == [500, 200]
        new = proc.publish(2)
        assert client.get(new[0]).status_code == 200 and date.fromisoformat(proc.expected(new[0])["published_at"][:10])
        proc.delete(url)
        assert client.get(url).status_code == 404 and proc.info()["deleted"] == [url]
        assert [r["status"] for r in proc.requests()] == [500, 200, 200, 404]
        assert len(proc.articles()) == len(list(local.articles())) + 2 - 1
        assert client.get("/__control/nothing").status_code == 405


def test_settings_point_the_archiver_at_the_replica(tmp_path: Path) -> None:
    replica = Replica(seed=SEED, base_url="http://127.0.0.1:8765/")
    path = tmp_path / "replica.toml"
    path.write_text(toml(replica.base_url, {"fetch": {"requests_per_second": 50.0}}), encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.site.base_url == replica.base_url and settings.epaper.base_url == replica.base_url
    pattern = re.compile(settings.site.article_url_pattern)
    for truth in replica.articles():
        assert pattern.search(urlsplit(truth["url"]).path), truth["url"]
        drop = settings.site.drop_query_params
        for alias in replica.aliases(truth["url"]):
            if "?" in alias:
                assert canonical_url(alias, drop_params=drop) == truth["url"]
