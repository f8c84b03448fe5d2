"""Storing articles on both databases: each dedup rung, versions and diff, credits, gone, replay."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from service.model import Credits, Image
from service.store import articles as articles_module
from service.store.repo import NewUrl, Store
from service.store.schema import article_urls, article_versions, articles, credits, images, people
from service.store.sql import Conflict
from service.text.simhash import hamming, simhash
from tests.integration.store.builders import SEEN, chinese_text, make_article, tweak

URL = "https://www.jsw.com.cn/2026/0301/1900001.shtml"


def count(store: Store, table: Any, *where: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def article_row(store: Store, article_id: int) -> Any:
    with store.engine.connect() as conn:
        return conn.execute(select(articles).where(articles.c.id == article_id)).one()


def test_new_then_same_content_is_unchanged_and_moves_only_last_seen(store: Store) -> None:
    a = make_article(URL)
    first = store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    later = SEEN + timedelta(hours=6)
    again = store.store_article(a, url_id=None, fetch_id=None, seen_at=later)
    assert (first.kind, first.version) == ("new", 1)
    assert (again.kind, again.article_id, again.version) == ("unchanged", first.article_id, 1)
    row = article_row(store, first.article_id)
    assert row.first_seen_at == SEEN and row.last_seen_at == later and row.last_changed_at == SEEN
    assert count(store, article_versions) == 1


def test_url_variants_are_one_article(store: Store) -> None:
    first = store.store_article(make_article(URL), url_id=None, fetch_id=None, seen_at=SEEN)
    variants = [
        "http://www.jsw.com.cn/2026/0301/1900001.shtml",
        "https://jsw.com.cn/2026/0301/1900001.shtml",
        "https://www.jsw.com.cn/2026/0301/1900001.shtml?utm_source=wx&from=timeline#top",
        "https://www.jsw.com.cn/2026/0301/1900001_2.shtml",
    ]
    for url in variants:
        out = store.store_article(make_article(url), url_id=None, fetch_id=None, seen_at=SEEN)
        assert (out.kind, out.article_id) == ("unchanged", first.article_id), url
    assert count(store, articles) == 1 and count(store, article_urls) == 0


def test_site_id_rung_makes_an_alias_and_follows_changes(store: Store) -> None:
    a = make_article(URL, site_id="1900001")
    first = store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    other_url = "https://www.jsw.com.cn/2026/0302/1900001.shtml"
    dup = store.store_article(dataclasses.replace(a, url=other_url), url_id=None, fetch_id=None, seen_at=SEEN)
    assert (dup.kind, dup.duplicate_of) == ("duplicate", first.article_id)
    changed = dataclasses.replace(a, url=other_url, title="更正后的标题")
    out = store.store_article(changed, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(hours=1))
    assert (out.kind, out.article_id, out.version) == ("changed", first.article_id, 2)
    assert count(store, articles) == 1
    assert count(store, article_urls, article_urls.c.reason == "site_id") == 1


def test_mirror_text_lands_on_its_original(store: Store) -> None:
    text = chinese_text(7)
    original = make_article(URL, text=text, title="金山网新闻")
    # a Traditional mirror with pinyin annotations: display text differs, the normalised text is equal
    mirror = make_article(
        "http://szb.jsw.com.cn/ZJRB/PC/content/202603/01/content_55.html",
        text=text,
        title="金山網新聞",
        body_text="金山網訊（jīn shān wǎng xùn）" + text,
    )
    assert mirror.body_text != original.body_text and mirror.normalized_text == original.normalized_text
    first = store.store_article(original, url_id=None, fetch_id=None, seen_at=SEEN)
    out = store.store_article(mirror, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(minutes=5))
    assert (out.kind, out.article_id, out.duplicate_of) == ("duplicate", first.article_id, first.article_id)
    assert count(store, articles) == 1 and count(store, article_versions) == 1
    assert article_row(store, first.article_id).last_seen_at == SEEN + timedelta(minutes=5)
    replay = store.store_article(mirror, url_id=None, fetch_id=None, seen_at=SEEN)
    assert (replay.kind, replay.duplicate_of) == ("duplicate", first.article_id)
    assert count(store, article_urls) == 1


def test_near_duplicate_is_found_through_the_band_index(store: Store) -> None:
    text = chinese_text(11, n=1500)
    near_text, distance = near_copy(text, store.dedup.simhash_max_distance)
    first = store.store_article(make_article(URL, text=text), url_id=None, fetch_id=None, seen_at=SEEN)
    near_url = "https://www.jsw.com.cn/2026/0301/1900002.shtml"
    near = make_article(near_url, text=near_text)
    out = store.store_article(near, url_id=None, fetch_id=None, seen_at=SEEN)
    assert out.kind == "duplicate" and out.duplicate_of == first.article_id
    assert out.article_id != first.article_id  # the near copy keeps its own text in its own row
    assert article_row(store, out.article_id).duplicate_of == first.article_id
    with store.engine.connect() as conn:
        alias = conn.execute(select(article_urls)).one()
    assert (alias.reason, alias.distance, alias.article_id) == ("near", distance, first.article_id)
    again = store.store_article(near, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(hours=1))
    assert (again.kind, again.article_id, again.duplicate_of) == (
        "duplicate",
        out.article_id,
        first.article_id,
    )


def near_copy(text: str, max_distance: int) -> tuple[str, int]:
    """``text`` with one character changed, at the first place where the fingerprints differ by
    1..max_distance bits (an edit in a 1,500-character text moves 0 to ~6 bits)."""
    fp = simhash(text)
    for pos in range(0, len(text), 37):
        candidate = tweak(text, (pos,))
        distance = hamming(fp, simhash(candidate))
        if 0 < distance <= max_distance:
            return candidate, distance
    raise AssertionError("no single-character edit stays within the threshold")


def test_beyond_the_threshold_is_a_new_article(store: Store) -> None:
    text = chinese_text(12, n=1500)
    fp, limit = simhash(text), store.dedup.simhash_max_distance
    edits = (tweak(text, tuple(range(p, p + 12 * 97, 97))) for p in range(0, 400, 13))
    far = next(e for e in edits if hamming(fp, simhash(e)) > limit)
    store.store_article(make_article(URL, text=text), url_id=None, fetch_id=None, seen_at=SEEN)
    far_url = "https://www.jsw.com.cn/2026/0301/1900002.shtml"
    out = store.store_article(make_article(far_url, text=far), url_id=None, fetch_id=None, seen_at=SEEN)
    assert out.kind == "new"


def test_far_texts_and_short_texts_are_not_near_matched(store: Store) -> None:
    a = store.store_article(make_article(URL, seed=1), url_id=None, fetch_id=None, seen_at=SEEN)
    b_url = "https://www.jsw.com.cn/2026/0301/1900002.shtml"
    b = store.store_article(make_article(b_url, seed=2), url_id=None, fetch_id=None, seen_at=SEEN)
    assert (a.kind, b.kind) == ("new", "new")
    short = chinese_text(3, n=store.dedup.min_chars - 1)
    c_url, d_url = (f"https://www.jsw.com.cn/2026/0301/190001{i}.shtml" for i in (3, 4))
    c = store.store_article(make_article(c_url, text=short), url_id=None, fetch_id=None, seen_at=SEEN)
    d = store.store_article(
        make_article(d_url, text=tweak(short, (5,))), url_id=None, fetch_id=None, seen_at=SEEN
    )
    assert (c.kind, d.kind) == ("new", "new")


def test_changed_title_or_body_makes_versions_with_a_diff(store: Store) -> None:
    v1 = make_article(URL, title="原标题")
    first = store.store_article(v1, url_id=None, fetch_id=None, seen_at=SEEN)
    v2 = dataclasses.replace(v1, title="新标题")
    out2 = store.store_article(v2, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(hours=1))
    body3 = v2.body_text.replace(v2.body_text[:10], "更正内容更正内容更正", 1)
    v3 = dataclasses.replace(v2, body_text=body3, normalized_text=body3.replace("\n", ""))
    out3 = store.store_article(v3, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(hours=2))
    assert (out2.kind, out2.version, out3.kind, out3.version) == ("changed", 2, "changed", 3)
    versions = store.versions(first.article_id)
    assert [v["title"] for v in versions] == ["原标题", "新标题", "新标题"]
    assert versions[0]["body_text"] == v1.body_text  # never overwritten
    d12 = store.diff(first.article_id, 1, 2)
    assert "-原标题" in d12 and "+新标题" in d12
    assert "+更正内容更正内容更正" in store.diff(first.article_id)
    assert store.diff(first.article_id, 1, 1) == ""
    row = article_row(store, first.article_id)
    assert row.version == 3 and row.last_changed_at == SEEN + timedelta(hours=2)
    exported = next(iter(store.iter_export(since=None, until=None)))
    assert exported["title"] == "新标题" and exported["version"] == 3


def test_people_are_remembered_once_committed_and_credited_alike(store: Store) -> None:
    """The store remembers person ids across articles (no lookup when all are known): those its own
    committed transactions created and those it read; a remembered id is the row's."""
    urls = [f"https://www.jsw.com.cn/2026/0301/19000{i}.shtml" for i in range(3)]
    first = store.store_article(make_article(urls[0], seed=1, credits=Credits(reporters=("张三",))),
                                url_id=None, fetch_id=None, seen_at=SEEN)  # fmt: skip
    assert set(store.people.ids) == {"张三"}  # created by that transaction, which committed
    other = Store(store.engine, store.dedup, canonicalize=store.canonicalize)  # another process
    other.store_article(make_article(urls[1], seed=2, credits=Credits(reporters=("张三",), editors=("王五",))),
                        url_id=None, fetch_id=None, seen_at=SEEN)  # fmt: skip
    assert set(other.people.ids) == {"张三", "王五"}  # one read back, one created
    third = store.store_article(make_article(urls[2], seed=3, credits=Credits(editors=("张三", "王五"))),
                                url_id=None, fetch_id=None, seen_at=SEEN)  # fmt: skip
    with store.engine.connect() as conn:
        person_of = set(conn.execute(select(credits.c.article_id, credits.c.person_id).where(
            credits.c.article_id.in_([first.article_id, third.article_id]))).all())  # fmt: skip
        ids = dict(conn.execute(select(people.c.name, people.c.id)).all())
    assert person_of == {(first.article_id, ids["张三"]), (third.article_id, ids["张三"]),
                         (third.article_id, ids["王五"])}  # fmt: skip
    assert store.people.ids == other.people.ids == ids


def test_people_created_by_a_rolled_back_transaction_are_not_remembered(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction that created a person and then failed (or raced and was rerun) leaves no id in
    the store's memory: the remembered id is always the committed row's."""
    real = articles_module._add_images
    failures = [RuntimeError("disk on fire"), Conflict("a racer"), None]

    def flaky(*args: Any) -> None:
        if (exc := failures.pop(0)) is not None:
            raise exc
        real(*args)

    monkeypatch.setattr(articles_module, "_add_images", flaky)
    a = make_article(URL, credits=Credits(reporters=("张三",)))
    with pytest.raises(RuntimeError):
        store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    assert store.people.ids == {} and count(store, people) == 0  # rolled back, forgotten
    # then a Conflict: the attempt is rolled back and rerun; only the rerun's ids are remembered
    store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    assert failures == []
    with store.engine.connect() as conn:
        assert store.people.ids == dict(conn.execute(select(people.c.name, people.c.id)).all())


def test_credits_and_images_are_rows(store: Store) -> None:
    a = make_article(
        URL,
        credits=Credits(reporters=("张三", "李四"), photographers=("赵六",), editors=("王五",)),
        images=(Image("https://www.jsw.com.cn/a.jpg", "图一"), Image("https://www.jsw.com.cn/b.jpg", "")),
    )
    b = make_article(
        "https://www.jsw.com.cn/2026/0301/1900002.shtml", seed=2, credits=Credits(reporters=("张三",))
    )
    out = store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    store.store_article(b, url_id=None, fetch_id=None, seen_at=SEEN)
    assert count(store, people) == 4  # 张三 once, though credited twice
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(credits.c.role, credits.c.position, people.c.name)
            .join(people, people.c.id == credits.c.person_id)
            .where(credits.c.article_id == out.article_id)
            .order_by(credits.c.role, credits.c.position)
        ).all()
        imgs = conn.execute(
            select(images.c.position, images.c.caption).where(images.c.article_id == out.article_id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("editors", 0, "王五"),
        ("photographers", 0, "赵六"),
        ("reporters", 0, "张三"),
        ("reporters", 1, "李四"),
    ]
    assert sorted(tuple(i) for i in imgs) == [(0, "图一"), (1, "")]


def test_gone_is_marked_never_deleted(store: Store) -> None:
    out = store.store_article(make_article(URL), url_id=None, fetch_id=None, seen_at=SEEN)
    assert store.mark_gone("http://www.jsw.com.cn/2026/0301/1900001.shtml", SEEN + timedelta(days=1))
    assert store.mark_gone(URL, SEEN + timedelta(days=2))  # the first time it went stays recorded
    assert not store.mark_gone("https://www.jsw.com.cn/2026/0301/999.shtml", SEEN)
    assert article_row(store, out.article_id).gone_at == SEEN + timedelta(days=1)
    assert store.stats()["counts"]["gone"] == 1
    assert [r["url"] for r in store.iter_export(since=None, until=None)] == [URL]


def snapshot(store: Store) -> dict[str, Any]:
    """The archive's content, independent of row ids and of which URL of a group is primary."""
    with store.engine.connect() as conn:
        arts = conn.execute(select(articles)).all()
        aliases = conn.execute(select(article_urls.c.article_id, article_urls.c.url_key)).all()
        vers = conn.execute(select(article_versions)).all()
        n_credits = conn.execute(select(func.count()).select_from(credits)).scalar_one()
        n_images = conn.execute(select(func.count()).select_from(images)).scalar_one()
    groups = {a.id: {a.url_key} for a in arts}
    for article_id, key in aliases:
        groups[article_id].add(key)
    out: dict[str, Any] = {"credits": n_credits, "images": n_images}
    for a in arts:
        vs = sorted(
            (v.version, v.version_hash, v.first_seen_at, v.last_seen_at) for v in vers if v.article_id == a.id
        )
        current = next(v.version_hash for v in vers if v.id == a.current_version_id)
        group = tuple(sorted(groups[a.id]))
        out[str(group)] = (
            a.site_id,
            a.version,
            current,
            a.first_seen_at,
            a.last_seen_at,
            a.last_changed_at,
            tuple(vs),
        )
    return out


def replay_fetches() -> list[tuple[Any, Any]]:
    """(article, seen_at) pairs: three articles, one edited twice, an exact mirror, repeats."""
    fetches: list[tuple[Any, Any]] = []
    for n in range(3):
        url = f"https://www.jsw.com.cn/2026/0301/19000{n}.shtml"
        a = make_article(url, seed=100 + n, site_id=f"19000{n}")
        fetches += [(a, SEEN + timedelta(hours=n)), (a, SEEN + timedelta(hours=n + 5))]
    edited = make_article("https://www.jsw.com.cn/2026/0301/190000.shtml", seed=100, site_id="190000")
    fetches.append((dataclasses.replace(edited, title="改过的标题"), SEEN + timedelta(hours=9)))
    fetches.append((dataclasses.replace(edited, title="又改过的标题"), SEEN + timedelta(hours=12)))
    mirror = make_article("http://szb.jsw.com.cn/ZJRB/PC/content/202603/01/content_9.html", seed=101)
    fetches.append((dataclasses.replace(mirror, site_id=None), SEEN + timedelta(hours=3)))
    return fetches


def test_replay_in_any_order_yields_the_same_rows(engine: Any, settings: Any, db_url: str) -> None:
    from tests.integration.store.conftest import site_canonicalizer

    fetches = replay_fetches()
    snaps = []
    for trial in range(3):
        store = Store(engine, settings.dedup, canonicalize=site_canonicalizer(settings))
        _clear(store)
        order = fetches * 2
        random.Random(trial).shuffle(order)
        for article, seen in order:
            store.store_article(article, url_id=None, fetch_id=None, seen_at=seen)
        snaps.append(snapshot(store))
    assert snaps[0] == snaps[1] == snaps[2]
    assert len([k for k in snaps[0] if k.startswith("(")]) == 3


def _clear(store: Store) -> None:
    from service.store.schema import simhash_index

    with store.engine.begin() as conn:
        for table in (credits, images, people, article_urls, simhash_index, article_versions, articles):
            conn.execute(table.delete())


def test_a_new_article_is_one_commit_of_at_most_eight_statements(store: Store) -> None:
    """The crawl's common path (``store_fetched``: the fetch, the article with its version, credits,
    images and fingerprint, the URL's new state) for a new article whose people are known: a count
    of statements by an event listener, not a timing."""
    fetched: list[Any] = []
    for n in (1, 2):  # the first warms the store's memory of people
        url = f"https://www.jsw.com.cn/2026/0301/190000{n}.shtml"
        store.add_urls([NewUrl(url, "article", None, SEEN)])
        (item,) = store.claim_due(limit=1, now=SEEN, lease_s=60, worker="w")
        fetched.append((item, make_article(url, seed=n)))
    statements: list[str] = []
    commits: list[int] = []
    for i, (item, article) in enumerate(fetched):
        if i == 1:
            event.listen(
                store.engine, "before_cursor_execute", lambda *a: statements.append(a[2].split("\n")[0])
            )
            event.listen(store.engine, "commit", lambda *a: commits.append(1))
        outcome = store.store_fetched(article, url_id=item.id, fetch=fetch_values(), next_due_at=None, etag=None,
                                      last_modified=None)  # fmt: skip
        assert outcome.kind == "new"
    # SQLite's BEGIN IMMEDIATE is sent through the connection (the "begin" event), so it is seen;
    # it opens the transaction, as psycopg's own BEGIN does unseen on PostgreSQL: not counted
    statements = [s for s in statements if not s.startswith("BEGIN")]
    assert len(statements) <= 8 and len(commits) == 1, statements
    assert not any("people" in s for s in statements)  # known: no lookup
    with store.engine.connect() as conn:  # and the rows are all there
        row = conn.execute(select(articles).where(articles.c.id == outcome.article_id)).one()
        version = conn.execute(
            select(article_versions).where(article_versions.c.id == row.current_version_id)
        ).one()
        assert (version.article_id, version.version, row.search_pending) == (row.id, 1, True)
        assert count(store, credits, credits.c.version_id == version.id) == 3
        assert count(store, images, images.c.version_id == version.id) == 1


def fetch_values() -> dict[str, Any]:
    return {"status": 200, "fetched_at": SEEN, "warc_file": None, "warc_offset": None, "warc_length": None,
            "payload_digest": None, "error": None, "elapsed_s": None, "run_id": None}  # fmt: skip
