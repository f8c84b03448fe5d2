"""The archive view's queries as a researcher uses them, on SQLite and PostgreSQL: people by pinyin
with their counts, newer and older pages, the days around a day, duplicates folded under their
original in lists, counts and search, partial credit names, totals, and the shared count names."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from service.model import Credits
from service.store import search
from service.store.browse import (
    ListFilter,
    Reader,
    channels,
    count,
    day_neighbours,
    list_ids,
    list_page,
    newer_ids,
    person,
    person_by_name,
)
from service.store.repo import Store
from service.store.stats import archive_counts
from tests.integration.store.builders import CST, SEEN, chinese_text, make_article
from tests.integration.store.test_store_articles import near_copy

# reporters whose names sort differently by code point (何 < 冯 < 刘 < 吴) and by pinyin
NAMES = ("何平", "冯军", "刘洋", "吴敏", "曾明")


def put(store: Store, n: int, *, day: int, hour: int = 9, channel: str = "镇江新闻", text: str | None = None,
        credits: Credits | None = None, site_id: str | None = None, title: str = "标题") -> int:  # fmt: skip
    article = make_article(
        f"https://www.jsw.com.cn/2026/03{day:02d}/19{n:05d}.shtml",
        text=text,
        seed=1000 + n,
        title=title,
        channel=channel,
        site_id=site_id or f"19{n:05d}",
        published_at=None if day == 0 else datetime(2026, 3, day, hour, tzinfo=CST),
        credits=credits or Credits(reporters=(NAMES[n % len(NAMES)],), editors=("王五",)),
    )
    return store.store_article(article, url_id=None, fetch_id=None, seen_at=SEEN).article_id


def syndicated(store: Store, original_n: int, n: int, *, exact: bool, day: int) -> tuple[int, int]:
    """An original and a copy of it in its own row (another site id, published later); their ids."""
    text = chinese_text(5000 + original_n, 1200)
    first = put(store, original_n, day=day, text=text, title="原文")
    copy_text = text if exact else near_copy(text, store.dedup.simhash_max_distance)[0]
    copy = put(store, n, day=day + 1, text=copy_text, title="【转载】原文", channel="转载")
    return first, copy


def test_people_sort_by_pinyin_with_roles_and_counts(store: Store) -> None:
    for n in range(10):
        put(store, n, day=1 + n % 5, hour=8 + n)
    put(store, 20, day=6, credits=Credits(reporters=("刘洋",), photographers=("刘洋",)))
    reader = Reader(store.engine)
    page = reader.people_list(per_page=50)
    names = [p.name for p in page.people]
    assert names == ["冯军", "何平", "刘洋", "王五", "吴敏", "曾明"], "pinyin, 曾 read zēng as a surname"
    assert sorted(names) != names, "code-point order would differ"
    lines = {p.name: p for p in page.people}
    assert lines["刘洋"].articles == 3 and lines["刘洋"].roles == {"reporters": 3, "photographers": 1}
    assert lines["王五"].roles == {"editors": 10} and page.total == 6 and not page.more
    # any part of the name, the pinyin, or its initials
    assert [p.name for p in reader.people_list("洋").people] == ["刘洋"]
    assert [p.name for p in reader.people_list("liuy").people] == ["刘洋"]
    assert [p.name for p in reader.people_list("wm").people] == ["吴敏"]
    assert reader.people_list("不在").people == []
    two = reader.people_list(per_page=4, page=2)
    assert [p.name for p in two.people] == names[4:] and not two.more and two.page == 2
    assert reader.people_list(per_page=4).more


def test_newer_and_older_pages_walk_the_same_list_both_ways(store: Store) -> None:
    ids = [put(store, n, day=1 + n % 4, hour=8 + n % 3) for n in range(9)]
    ids += [put(store, 100 + n, day=0) for n in range(3)]  # undated ones come last
    flt = ListFilter()
    with store.engine.connect() as conn:
        forward, cursor = [], None
        pages = []
        for _ in range(10):
            got, cursor = list_ids(conn, flt, cursor=cursor, limit=4)
            pages.append(got)
            forward += got
            if cursor is None:
                break
        assert sorted(c.id for c in forward) == sorted(ids) and len(pages) == 3
        # from the last page back: each "newer" page is the page before it
        back, more = newer_ids(conn, flt, before=pages[2][0], limit=4)
        assert back == pages[1] and more
        back, more = newer_ids(conn, flt, before=pages[1][0], limit=4)
        assert back == pages[0] and not more
        # the page of the view: neighbours' cursors, and the first page filled up from "before"
        middle = list_page(conn, flt, cursor=pages[0][-1], before=None, limit=4)
        assert [r.id for r in middle.rows] == [c.id for c in pages[1]]
        assert middle.newer == pages[1][0] and middle.older == pages[1][-1]
        top = list_page(conn, flt, cursor=None, before=pages[0][1], limit=4)
        assert [r.id for r in top.rows] == [c.id for c in pages[0]] and top.newer is None
        assert list_page(conn, flt, cursor=None, before=None, limit=4).newer is None


def test_days_around_a_day_skip_empty_days_and_copies(store: Store) -> None:
    put(store, 1, day=2)
    put(store, 2, day=5)
    put(store, 3, day=9)
    with store.engine.connect() as conn:
        assert day_neighbours(conn, date(2026, 3, 5)) == (date(2026, 3, 2), date(2026, 3, 9))
        assert day_neighbours(conn, date(2026, 3, 2)) == (None, date(2026, 3, 5))
        assert day_neighbours(conn, date(2026, 3, 7)) == (date(2026, 3, 5), date(2026, 3, 9))
        one_day = list_page(conn, ListFilter(since=date(2026, 3, 9), until=date(2026, 3, 9)), cursor=None,
                            before=None, limit=10)  # fmt: skip
        assert (one_day.prev_day, one_day.next_day) == (date(2026, 3, 5), None)
    syndicated(store, 10, 11, exact=True, day=12)  # the copy is on the 13th, alone
    with store.engine.connect() as conn:
        assert day_neighbours(conn, date(2026, 3, 12)) == (date(2026, 3, 9), None)


def test_copies_are_folded_in_lists_counts_and_search(store: Store) -> None:
    exact_original, exact_copy = syndicated(store, 1, 2, exact=True, day=3)
    near_original, near_copy_id = syndicated(store, 3, 4, exact=False, day=5)
    put(store, 5, day=6, channel="转载")
    store.refresh_search()
    with store.engine.connect() as conn:
        assert dict(channels(conn))["转载"] == 1, "the channel count leaves out the copies it does not list"
        listed, _ = list_ids(conn, ListFilter(channel="转载"), cursor=None, limit=50)
        assert len(listed) == 1 == count(conn, ListFilter(channel="转载"))
        assert count(conn, ListFilter(channel="转载", originals_only=False)) == 3
        numbers = archive_counts(conn)
        assert (numbers["articles"], numbers["copies_exact"], numbers["copies_near"]) == (3, 1, 1)
        page = list_page(conn, ListFilter(), cursor=None, before=None, limit=50)
        by_id = {r.id: r for r in page.rows}
        assert len(by_id) == 3 and {exact_original, near_original} <= set(by_id)
        assert exact_copy not in by_id and near_copy_id not in by_id
        assert by_id[exact_original].copies == 1 and by_id[near_original].copies == 1
        pid = person_by_name(conn, NAMES[1])
        assert pid is not None
        found = person(conn, pid)
        assert found is not None and sum(found.counts.values()) == 1, "the copy's credit is not counted"
        body = search.search_page(conn, search.SearchQuery.build("原文"))
        assert sorted(h.article_id for h in body.hits) == sorted([exact_original, near_original])
        assert body.total == 2 and {h.copies for h in body.hits} == {1}
        every = search.search_page(conn, search.SearchQuery.build("原文", include_duplicates=True))
        assert every.total == 4
    stats = store.stats()["counts"]
    assert (stats["copies_exact"], stats["copies_near"], stats["aliases"]) == (1, 1, numbers["aliases"])
    # the names of the first release, deprecated: the sums they counted
    assert stats["near_duplicates"] == 2 and stats["duplicates"] == numbers["aliases"]
    assert Reader(store.engine).counts() == numbers


def test_partial_names_totals_people_named_and_the_api_filters(store: Store) -> None:
    for n in range(6):
        put(store, n, day=1 + n, title=f"镇江新闻第{n}篇")
    put(store, 50, day=8, credits=Credits(reporters=("刘洋洋",)), channel="社会")
    store.refresh_search()
    with store.engine.connect() as conn:
        partial = search.search_page(conn, search.SearchQuery.build(None, credits={"reporters": "刘洋"}))
        assert partial.total == 2, "刘洋 finds 刘洋 and 刘洋洋"
        assert search.search_page(conn, search.SearchQuery.build(None, credits={"reporters": "%"})).total == 0
        liu = person_by_name(conn, "刘洋")
        assert liu is not None
        by_id = search.search_page(conn, search.SearchQuery.build("镇江新闻", person_id=liu))
        assert by_id.total == 1
        in_channel = search.search_page(conn, search.SearchQuery.build(None, credits={"editors": "王五"},
                                                                       channel="镇江新闻"))  # fmt: skip
        assert in_channel.total == 6
        paged = search.search_page(conn, search.SearchQuery.build("镇江新闻", limit=4, offset=4))
        assert paged.total == 6 and len(paged.hits) == 2
        past = search.search_page(conn, search.SearchQuery.build("镇江新闻", limit=4, offset=40))
        assert past.total == 6 and past.hits == []
        assert search.people_named(conn, ("刘洋",))[0][1] == "刘洋", "the exact name first"
        assert {n for _, n in search.people_named(conn, ("刘洋",))} == {"刘洋", "刘洋洋"}
        assert search.people_named(conn, ("刘", "洋")) == [(liu, "刘洋")], "the words joined"
        assert search.people_named(conn, ("镇江",)) == []
        # an unknown person id selects nothing, with a total of 0
        assert count(conn, ListFilter(person_id=987654)) == 0
    reader = Reader(store.engine)
    rows, nxt, total = reader.api_list(ListFilter(), limit=4)
    assert len(rows) == 4 and nxt is not None and total == 7
    rows, _, total = reader.api_list(ListFilter(person_id=liu))
    assert [r["reporters"] for r in rows] == [["刘洋"]] and total == 1
    shown = reader.search_view(search.SearchQuery.build("刘洋"))
    assert shown.results.total == 0 and [n for _, n in shown.named][:1] == ["刘洋"], "no text, the person"
    assert shown.person_articles == 1 and [r.credits["reporters"] for r in shown.person_newest] == [["刘洋"]]
    partly = reader.search_view(search.SearchQuery.build("洋洋"))
    assert [n for _, n in partly.named] == ["刘洋洋"] and partly.person_newest == [], "only a name in full"


def test_a_cached_total_per_filter_is_bounded(store: Store) -> None:
    put(store, 1, day=1)
    ticks = iter(range(10_000))
    reader = Reader(store.engine, clock=lambda: float(next(ticks)), cache_s=1e9)
    for day in range(1, 400):
        reader.api_list(dataclasses.replace(ListFilter(), since=date(2026, 1, 1) + timedelta(days=day)))
    from service.store.browse import CACHE_ENTRIES

    assert len(reader._cache) <= CACHE_ENTRIES
