"""The JSON API and the Atom feeds as a client uses them, on SQLite and PostgreSQL: ``q`` (the search
of the page), ``person`` as an id and ``person_name``, ``include_duplicates``, totals, objects
rather than bare lists; feeds read by a real feed parser (feedparser), their ``updated`` and their
entry ids that do not depend on the host serving them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app.web.app import create_app
from service.model import Credits
from service.store.browse import Reader
from service.store.repo import Store
from tests.integration.store.builders import CST, SEEN, chinese_text, make_article
from tests.integration.store.test_store_articles import near_copy

feedparser = pytest.importorskip(
    "feedparser", reason="feedparser is a dev dependency: pip install -e '.[dev]'"
)


def put(store: Store, n: int, *, day: int, text: str | None = None, reporter: str = "张三",
        title: str = "镇江新闻", seen: datetime = SEEN) -> int:  # fmt: skip
    article = make_article(
        f"https://www.jsw.com.cn/2026/03{day:02d}/19{n:05d}.shtml",
        text=text,
        seed=2000 + n,
        title=title,
        site_id=f"19{n:05d}",
        channel="镇江新闻",
        published_at=datetime(2026, 3, day, 9, tzinfo=CST),
        credits=Credits(reporters=(reporter,)),
    )
    return store.store_article(article, url_id=None, fetch_id=None, seen_at=seen).article_id


@pytest.fixture()
def archive(store: Store) -> dict[str, int]:
    text = chinese_text(77, 1200)
    ids = {f"a{n}": put(store, n, day=n, reporter="张三" if n % 2 else "李四") for n in range(1, 6)}
    ids["original"] = put(store, 10, day=7, text=text, title="西津渡原文", reporter="王五")
    ids["copy"] = put(store, 11, day=8, text=near_copy(text, store.dedup.simhash_max_distance)[0],
                      title="西津渡转载", reporter="王五")  # fmt: skip
    # a second version of a1, seen a day later
    edited = make_article("https://www.jsw.com.cn/2026/0301/1900001.shtml", seed=9999, title="镇江新闻（更新）",
                          site_id="1900001", published_at=datetime(2026, 3, 1, 9, tzinfo=CST),
                          credits=Credits(reporters=("张三",)))  # fmt: skip
    store.store_article(edited, url_id=None, fetch_id=None, seen_at=SEEN.replace(day=2))
    store.refresh_search()
    return ids


@pytest.fixture()
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Reader(store.engine), tmp_path)) as c:
        yield c


def get(client: TestClient, path: str, **params: Any) -> Any:
    got = client.get(path, params=params)
    assert got.status_code == 200, got.text
    return got.json()


def test_articles_have_a_total_and_leave_copies_out_unless_asked(
    client: TestClient, archive: dict[str, int]
) -> None:
    page = get(client, "/api/articles", limit=2)
    assert page["total"] == 6 and len(page["articles"]) == 2 and page["total_capped"] is False
    assert archive["copy"] not in {r["id"] for r in client.get("/api/articles?limit=200").json()["articles"]}
    every = get(client, "/api/articles", include_duplicates="true", limit=200)
    assert every["total"] == 7 and archive["copy"] in {r["id"] for r in every["articles"]}
    assert client.get("/api/articles?include_duplicates=maybe").status_code == 400


def test_person_is_an_id_and_names_go_through_person_name(
    client: TestClient, archive: dict[str, int]
) -> None:
    # the id the pages and feeds use: from a person link of the article page
    html = client.get(f"/articles/{archive['a1']}").text
    pid = int(html.split('href="/people/', 1)[1].split('"', 1)[0])
    by_id = get(client, "/api/articles", person=pid)
    assert by_id["total"] == 3 and all(r["reporters"] == ["张三"] for r in by_id["articles"])
    assert get(client, "/api/articles", person_name="张三")["total"] == 3
    assert get(client, "/api/articles", person=987654) == {**get(client, "/api/articles", person=987654),
                                                          "articles": [], "total": 0}  # fmt: skip
    assert get(client, "/api/articles", person_name="不存在")["total"] == 0
    bad = client.get("/api/articles", params={"person": "张三"})
    assert bad.status_code == 400 and "person_name" in bad.json()["error"]
    assert client.get("/api/articles", params={"person": pid, "person_name": "张三"}).status_code == 400


def test_q_is_the_search_of_the_page(client: TestClient, archive: dict[str, int]) -> None:
    found = get(client, "/api/articles", q="西津渡")
    assert [r["id"] for r in found["articles"]] == [archive["original"]] and found["total"] == 1
    assert found["articles"][0]["title"] == "西津渡原文"  # the article JSON, as without q
    both = get(client, "/api/articles", q="西津渡", include_duplicates="1")
    assert sorted(r["id"] for r in both["articles"]) == sorted([archive["original"], archive["copy"]])
    page_words = client.get("/search", params={"q": "镇江新闻"}).text
    first = get(client, "/api/articles", q="镇江新闻", limit=2)
    assert first["total"] == 5 and "5 articles contain these words" in page_words
    pages = [first]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    got = [r["id"] for p in pages for r in p["articles"]]
    assert len(got) == 5 == len(set(got)) and len(pages) == 3
    by_person = get(client, "/api/articles", q="镇江新闻", person_name="李四")
    assert {r["reporters"][0] for r in by_person["articles"]} == {"李四"} and by_person["total"] == 2
    assert client.get("/api/articles", params={"q": "镇江", "cursor": "d1.2"}).status_code == 400


def test_versions_and_counts_are_objects(client: TestClient, archive: dict[str, int]) -> None:
    got = get(client, f"/api/articles/{archive['a1']}/versions")
    assert got["article_id"] == archive["a1"] and got["count"] == 2
    assert [v["version"] for v in got["versions"]] == [1, 2]
    assert all(datetime.fromisoformat(v["first_seen_at"]) <= datetime.fromisoformat(v["last_seen_at"])
               for v in got["versions"])  # fmt: skip
    counts = get(client, "/api/counts")["counts"]
    assert (counts["articles"], counts["copies_near"], counts["copies_exact"]) == (6, 1, 0)
    home = client.get("/").text
    for name, n in counts.items():
        assert f"<strong>{n:,}</strong> {name}" in home, name


def test_feeds_parse_with_the_newest_time_and_stable_ids(client: TestClient, archive: dict[str, int],
                                                         store: Store, tmp_path: Path) -> None:  # fmt: skip
    feed = feedparser.parse(client.get("/feeds/articles.atom").content)
    assert not feed.bozo, feed.get("bozo_exception")
    entries = feed.entries
    assert len(entries) == 6, "copies are not entries of their own"
    newest = max(datetime.fromisoformat(e.updated) for e in entries)
    assert datetime.fromisoformat(feed.feed.updated) == newest
    ids = {e.id for e in entries}
    assert f"tag:jinshan-archiver,2026:article/{archive['a1']}" in ids
    # another host and port serve the same ids
    with TestClient(
        create_app(Reader(store.engine), tmp_path), base_url="http://archive.example:8123"
    ) as other:
        again = feedparser.parse(other.get("/feeds/articles.atom").content)
    assert {e.id for e in again.entries} == ids and again.feed.id == feed.feed.id
    assert again.entries[0].link.startswith("http://archive.example:8123/articles/")
    html = client.get(f"/articles/{archive['a1']}").text
    pid = int(html.split('href="/people/', 1)[1].split('"', 1)[0])
    person = feedparser.parse(client.get(f"/feeds/people/{pid}.atom").content)
    assert not person.bozo and person.feed.id == f"tag:jinshan-archiver,2026:feed/people/{pid}"
    assert {e.id for e in person.entries} <= ids and len(person.entries) == 3
