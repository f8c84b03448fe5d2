"""Search on both databases: matching (3+ and 1–2 character terms), filters, ordering, snippets,
the index kept current by the store, reindex, migrations 0003/0004 on an existing archive, the CLI."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select, text
from typer.testing import CliRunner

from service.app.cli import app
from service.app.render import search_hit_markup
from service.model import Credits
from service.settings import DatabaseSettings, DedupSettings
from service.store import db, search
from service.store.repo import Store
from service.text.simhash import hamming, simhash
from tests.integration.store.builders import CST, SEEN, chinese_text, make_article, tweak
from tests.support.postgres import _admin, drop_database

#: characters the queries below look for: kept out of the random filler so nothing matches by chance
RESERVED = set("西津渡古街镇江市民游客金山寺文化节焦山碑林北固山公园鎮5Gg新旧达标")


def filler(seed: int, n: int = 300) -> str:
    """``n`` random CJK characters without any ``RESERVED`` one (reproducible per seed)."""
    chars = [c for c in chinese_text(seed, n * 2) if c not in RESERVED]
    return "".join(chars[:n])


def url_of(n: int) -> str:
    return f"https://www.jsw.com.cn/2026/03{n:02d}/19{n:05d}.shtml"


def put(
    store: Store,
    n: int,
    *,
    title: str,
    body: str,
    day: int,
    reporters: tuple[str, ...] = ("张三",),
    photographers: tuple[str, ...] = (),
    editors: tuple[str, ...] = ("龚逍遥",),
    seen: datetime = SEEN,
) -> int:
    """Store article ``n`` (its URL follows from ``n``) published on 2026-03-``day``; its id."""
    article = make_article(
        url_of(n),
        text=body,
        title=title,
        published_at=datetime(2026, 3, day, 9, 0, tzinfo=CST),
        credits=Credits(reporters=reporters, photographers=photographers, editors=editors),
    )
    article_id = store.store_article(article, url_id=None, fetch_id=None, seen_at=seen).article_id
    store.refresh_search()  # as the daemon does after each drain (``store_article`` only notes the change)
    return article_id


@pytest.fixture()
def archive(store: Store) -> dict[str, int]:
    return fill(store)


def fill(store: Store) -> dict[str, int]:
    """Five articles with known words in known places; their ids by a short name."""
    return {
        # the term in the title and twice in the body
        "xijindu": put(
            store,
            1,
            title="西津渡古街迎来客流高峰",
            body=filler(1) + "镇江市民在西津渡游玩，西津渡" + filler(2),
            day=1,
            reporters=("张三",),
            photographers=("马镇丹",),
        ),
        # the term only in the title
        "jinshan": put(
            store,
            2,
            title="金山寺文化节开幕",
            body=filler(3) + "游客到镇江" + filler(4),
            day=5,
            reporters=("李四",),
        ),
        # the term once in the body only
        "jiaoshan": put(store, 3, title="焦山碑林", body=filler(5) + "从西津渡出发" + filler(6), day=3),
        # equal strength (same body length, one occurrence each): the newer comes first
        "beigu_old": put(store, 4, title="春天", body=filler(7) + "北固山公园" + filler(8), day=2),
        "beigu_new": put(store, 5, title="秋天", body=filler(9) + "北固山公园" + filler(10), day=4),
    }


def ids(hits: list[search.SearchHit]) -> list[int]:
    return [h.article_id for h in hits]


def test_three_character_terms_match_title_and_body_best_first(store: Store, archive: dict[str, int]) -> None:
    hits = store.search("西津渡")
    # title + body beats body only
    assert ids(hits) == [archive["xijindu"], archive["jiaoshan"]]
    assert hits[0].score is not None and hits[1].score is not None and hits[0].score > hits[1].score
    assert ids(store.search("文化节")) == [archive["jinshan"]]  # title only
    assert ids(store.search("从西津渡出发")) == [archive["jiaoshan"]]  # body only, longer than 3
    assert store.search("西津渡码头") == []  # every trigram of a term must match, in order


def test_short_terms_fall_back_to_a_scan_and_stay_correct(store: Store, archive: dict[str, int]) -> None:
    assert sorted(ids(store.search("镇江"))) == sorted([archive["xijindu"], archive["jinshan"]])
    assert sorted(ids(store.search("市"))) == [archive["xijindu"]]
    # a short term and a long one together: both must occur
    assert ids(store.search("西津渡 市民")) == [archive["xijindu"]]
    assert ids(store.search("游客 镇江")) == [archive["jinshan"]]
    assert store.search("镇江 北固山") == []


def test_ascii_terms_ignore_case(store: Store) -> None:
    put(store, 6, title="镇江建成5G基站", body=filler(11), day=6)
    assert [h.title for h in store.search("5g")] == ["镇江建成5G基站"]
    assert [h.title for h in store.search("5G基站")] == ["镇江建成5G基站"]
    assert [h.title for h in store.search("5g基站")] == ["镇江建成5G基站"]
    assert [h.title for h in store.search("建成5G", credits={"reporters": "张三"})] == ["镇江建成5G基站"]


def test_query_syntax_is_taken_literally(store: Store, archive: dict[str, int]) -> None:
    # FTS5 operators, quotes and LIKE wildcards in the user's words are plain characters
    for query in ('西津渡" OR "金山', "西津渡*", "NOT 西津渡", "%镇%", "_镇", 'a"b', "NEAR(西津渡)"):
        assert store.search(query) == [], query
    put(store, 9, title="100%达标", body=filler(12), day=9)
    assert [h.title for h in store.search("100%")] == ["100%达标"]
    assert [h.title for h in store.search("0%")] == ["100%达标"]


def test_traditional_text_is_not_converted(store: Store, archive: dict[str, int]) -> None:
    # the archive holds Simplified text; a Traditional query is taken literally (documented limit)
    assert store.search("鎮江") == []
    assert store.search("镇江") != []


def test_equal_matches_come_newest_first(store: Store, archive: dict[str, int]) -> None:
    hits = store.search("北固山")
    assert ids(hits) == [archive["beigu_new"], archive["beigu_old"]]
    assert hits[0].score == pytest.approx(hits[1].score)
    assert ids(store.search("北固")) == [archive["beigu_new"], archive["beigu_old"]]


@pytest.mark.parametrize("term", ["西津渡", "镇江"], ids=["trigram", "short"])
def test_many_matches_rank_only_the_window_archived_last(
    store: Store, term: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # six matches, the window holds three: the three with the highest ids are ranked, best first
    monkeypatch.setattr(search, "RANK_WINDOW", 3)
    strong = {put(store, n, title=f"{term}{n}", body=filler(n) + term, day=n) for n in (1, 2)}
    weak = [put(store, n, title=f"春天{n}", body=filler(n) + term, day=n) for n in range(3, 7)]
    assert strong.isdisjoint(ids(store.search(term)))
    newest = sorted(weak)[-3:]
    assert ids(store.search(term)) == sorted(newest, reverse=True)  # equal scores: newest first
    assert len(store.search(term, limit=2)) == 2
    # the filters apply before the window: an old match in the range is still found
    old = ids(store.search(term, until=date(2026, 3, 2)))
    assert sorted(old) == sorted(strong)
    # pages end with the window
    with store.engine.connect() as conn:
        last = search.search(conn, search.SearchQuery.build(term, limit=5, offset=2))
        full = search.search_page(conn, search.SearchQuery.build(term))
        narrow = search.search_page(conn, search.SearchQuery.build(term, until=date(2026, 3, 2)))
    assert ids(last) == [newest[0]]
    # a full window: "at least 3", not "3"; below it the count is exact
    assert (full.total, full.capped) == (3, True) and (narrow.total, narrow.capped) == (2, False)
    with pytest.raises(ValueError, match="offset"):
        search.SearchQuery.build(term, offset=3)


def test_credit_filters_with_or_without_a_query(store: Store, archive: dict[str, int]) -> None:
    by_zhang = store.search(credits={"reporters": "张三"})
    # newest first: 04, 03, 02, 01 (李四 wrote the 05)
    assert ids(by_zhang) == [archive[k] for k in ("beigu_new", "jiaoshan", "beigu_old", "xijindu")]
    assert all(h.score is None for h in by_zhang)
    assert ids(store.search(credits={"reporters": "李四"})) == [archive["jinshan"]]
    assert ids(store.search(credits={"photographers": "马镇丹"})) == [archive["xijindu"]]
    assert len(store.search(credits={"editors": "龚逍遥"})) == 5
    assert store.search(credits={"reporters": "马镇丹"}) == []  # the role matters
    assert ids(store.search("西津渡", credits={"reporters": "张三", "photographers": "马镇丹"})) == [
        archive["xijindu"]
    ]
    assert store.search("文化节", credits={"reporters": "张三"}) == []


def test_date_filters_and_limit(store: Store, archive: dict[str, int]) -> None:
    assert ids(store.search("西津渡", since=date(2026, 3, 2))) == [archive["jiaoshan"]]
    assert ids(store.search("西津渡", until=date(2026, 3, 2))) == [archive["xijindu"]]
    assert store.search("西津渡", since=date(2026, 3, 4), until=date(2026, 3, 5)) == []
    window = store.search(credits={"editors": "龚逍遥"}, since=date(2026, 3, 2), until=date(2026, 3, 4))
    assert ids(window) == [archive["beigu_new"], archive["jiaoshan"], archive["beigu_old"]]
    assert ids(store.search(credits={"editors": "龚逍遥"}, limit=2)) == [
        archive["jinshan"],
        archive["beigu_new"],
    ]
    assert ids(store.search("西津渡", limit=1)) == [archive["xijindu"]]


def test_bad_options_are_refused(store: Store) -> None:
    for kwargs in (
        {},
        {"query": "   "},
        {"query": "镇江", "limit": 0},
        {"query": "镇江", "since": date(2026, 3, 5), "until": date(2026, 3, 1)},
        {"credits": {"authors": "张三"}},
    ):
        with pytest.raises(ValueError):
            store.search(**kwargs)  # type: ignore[arg-type]


def test_snippet_is_a_window_around_the_first_match(store: Store, archive: dict[str, int]) -> None:
    hit = store.search("西津渡")[0]
    line = hit.to_json()
    assert set(line) == {"url", "title", "published_at", "snippet", "score"}
    assert line["published_at"] == "2026-03-01T09:00:00+08:00"
    snippet = line["snippet"]
    assert snippet.count("【西津渡】") == 2 and snippet.startswith("…") and snippet.endswith("…")
    # ~60 characters of text around the match, whatever the body's length (300 + 14 + 300)
    assert 55 <= len(snippet.replace("【", "").replace("】", "")) <= 64
    assert hit.title_marks == (("西津渡", True), ("古街迎来客流高峰", False))
    markup = search_hit_markup(hit)
    assert "[bold yellow]西津渡[/]" in markup and url_of(1) in markup
    # a title-only match shows the start of the body, unmarked
    only_title = store.search("文化节")[0].to_json()["snippet"]
    assert "【" not in only_title and only_title.startswith(filler(3)[:20])


def test_markup_in_the_text_is_escaped() -> None:
    pattern = search._pattern(("镇江",))
    runs = search.snippet("[red]警告[/red] 镇江\n新闻", pattern)
    assert search.render(runs, "<", ">") == "[red]警告[/red] <镇江> 新闻"
    from rich.markup import escape, render

    markup = search.render(runs, "[bold yellow]", "[/]", escape)
    assert render(markup).plain == "[red]警告[/red] 镇江 新闻"


def test_index_follows_a_changed_version(store: Store, archive: dict[str, int]) -> None:
    changed = put(
        store,
        1,
        title="新标题：北固山",
        body=filler(1) + "市民游玩北固山公园" + filler(2),
        day=1,
        reporters=("王五",),
        seen=SEEN + timedelta(hours=1),
    )
    assert changed == archive["xijindu"] and len(store.versions(changed)) == 2
    assert ids(store.search("西津渡")) == [archive["jiaoshan"]]  # the old text is gone
    assert ids(store.search("西津渡古街")) == []
    assert ids(store.search("新标题"))[0] == changed
    assert changed in ids(store.search("北固山公园"))
    # credits of the old version no longer count; the new ones do
    assert changed not in ids(store.search(credits={"reporters": "张三"}))
    assert ids(store.search(credits={"reporters": "王五"})) == [changed]
    # the same old text seen again later is current again: so is its document
    put(
        store,
        1,
        title="西津渡古街迎来客流高峰",
        body=filler(1) + "镇江市民在西津渡游玩，西津渡" + filler(2),
        day=1,
        photographers=("马镇丹",),
        seen=SEEN + timedelta(hours=2),
    )
    assert ids(store.search("西津渡"))[0] == changed and ids(store.search("新标题")) == []


def test_a_near_duplicate_row_is_searchable_and_folded_under_its_original(store: Store) -> None:
    base = filler(20, 1500)
    text_ = base[:700] + "焦山碑林" + base[700:]
    first = put(store, 7, title="原文", body=text_, day=7)
    near, pos = next(
        (t, p)
        for t, p in ((tweak(text_, (p,)), p) for p in range(37, len(text_), 37))
        if 0 < hamming(simhash(text_), simhash(t)) <= store.dedup.simhash_max_distance and "焦山碑林" in t
    )
    out = store.store_article(
        make_article(url_of(8), text=near, title="转载", published_at=datetime(2026, 3, 8, tzinfo=CST)),
        url_id=None,
        fetch_id=None,
        seen_at=SEEN,
    )
    store.refresh_search()
    assert out.kind == "duplicate" and out.article_id != first
    # one result for the pair: the original, which says it has a copy
    hits = store.search("焦山碑林")
    assert ids(hits) == [first] and hits[0].copies == 1
    # words only the copy has find the original too: the copy's own text is indexed
    only_in_copy = near[pos - 1 : pos + 2]
    assert only_in_copy not in text_
    assert ids(store.search(only_in_copy)) == [first]
    with store.engine.connect() as conn:
        both = search.search_page(conn, search.SearchQuery.build("焦山碑林", include_duplicates=True))
        folded = search.search_page(conn, search.SearchQuery.build("焦山碑林"))
    assert sorted(ids(both.hits)) == sorted([first, out.article_id]) and both.total == 2
    assert folded.total == 1 and not folded.capped


def search_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM search_documents")).scalar_one())


def test_reindex_repairs_a_damaged_index(store: Store, archive: dict[str, int]) -> None:
    key = "rowid" if store.engine.dialect.name == "sqlite" else "article_id"
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM search_documents WHERE {key} = :id"), {"id": archive["xijindu"]})
    assert ids(store.search("西津渡")) == [archive["jiaoshan"]]
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM search_documents"))
    assert store.search("西津渡") == [] and search_rows(store.engine) == 0
    assert store.reindex() == 5
    assert ids(store.search("西津渡")) == [archive["xijindu"], archive["jiaoshan"]]
    assert store.reindex() == 5 and search_rows(store.engine) == 5  # idempotent


def test_reindex_in_small_batches_gives_the_same_index(store: Store, archive: dict[str, int]) -> None:
    before = [(h.article_id, h.score) for h in store.search("西津渡")]
    assert store.reindex(batch=2) == 5
    assert [(h.article_id, h.score) for h in store.search("西津渡")] == before
    assert search_rows(store.engine) == 5


def alembic_to(engine: Engine, revision: str) -> None:
    cfg = db._alembic_config()
    with engine.connect() as conn, conn.begin():
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_upgrade_from_0002_makes_existing_articles_searchable(db_url: str) -> None:
    engine = db.make_engine(DatabaseSettings(url=db_url))
    try:
        db.upgrade(engine)
        store = Store(engine, DedupSettings())
        first = put(store, 1, title="西津渡古街", body=filler(1) + "镇江" + filler(2), day=1)
        put(
            store,
            1,
            title="西津渡古街",
            body=filler(1) + "北固山" + filler(2),
            day=1,
            seen=SEEN + timedelta(hours=1),
        )
        second = put(store, 2, title="金山寺", body=filler(3) + "镇江" + filler(4), day=2)
        alembic_to(engine, "0002")  # the downgrade works, and leaves an archive as 0002 wrote it
        assert db.current_revision(engine) == "0002"
        assert not any(t.startswith("search_documents") for t in inspect(engine).get_table_names())
        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()
        assert ids(store.search("西津渡")) == [first]
        assert ids(store.search("镇江")) == [second]  # only the current version was indexed
        assert ids(store.search("北固山")) == [first]
        assert search_rows(engine) == 2
    finally:
        engine.dispose()


@pytest.fixture()
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("JINSHAN_DATABASE__URL", db_url)
    return CliRunner()


def test_search_and_reindex_commands(runner: CliRunner, store: Store, archive: dict[str, int]) -> None:
    out = runner.invoke(app, ["search", "西津渡", "--json"])
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["url"] for r in lines] == [url_of(1), url_of(3)]
    assert "【西津渡】" in lines[0]["snippet"] and lines[0]["score"] > lines[1]["score"]

    out = runner.invoke(app, ["search", "--reporter", "李四", "--json"])
    assert [json.loads(line)["url"] for line in out.stdout.splitlines()] == [url_of(2)]
    out = runner.invoke(app, ["search", "--photographer", "马镇丹", "--since", "2026-03-01", "--json"])
    assert [json.loads(line)["url"] for line in out.stdout.splitlines()] == [url_of(1)]
    out = runner.invoke(app, ["search", "--editor", "龚逍遥", "--limit", "2", "--json"])
    assert len(out.stdout.splitlines()) == 2

    shown = runner.invoke(app, ["search", "镇江"])
    assert shown.exit_code == 0, shown.output
    assert "西津渡古街迎来客流高峰" in shown.stdout and url_of(2) in shown.stdout
    assert "2026-03-05 09:00" in shown.stdout and "[bold" not in shown.stdout

    # several words as several arguments, no quotes needed: every one must occur
    both = runner.invoke(app, ["search", "西津渡", "镇江", "--json"])
    assert both.exit_code == 0, both.output
    quoted = runner.invoke(app, ["search", "西津渡 镇江", "--json"])
    assert both.stdout == quoted.stdout and [
        json.loads(line)["url"] for line in both.stdout.splitlines()
    ] == [url_of(1)]

    none = runner.invoke(app, ["search", "不存在的词"])
    assert none.exit_code == 0 and none.stdout == "" and "no matching" in none.stderr
    for bad in (["search"], ["search", "镇江", "--limit", "0"], ["search", "镇江", "--since", "3月"]):
        refused = runner.invoke(app, bad)
        assert refused.exit_code == 2 and "jinshan:" in refused.stderr, bad

    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM search_documents"))
    rebuilt = runner.invoke(app, ["db", "reindex"])
    assert rebuilt.exit_code == 0 and "5 documents" in rebuilt.stdout
    assert len(runner.invoke(app, ["search", "西津渡", "--json"]).stdout.splitlines()) == 2


@pytest.fixture()
def utf8_postgres(postgres_url: str) -> Iterator[str]:
    """A database whose LC_CTYPE lets pg_trgm see CJK characters (the test server's default is C)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = "t_utf8_search"
    _admin(postgres_url, f"DROP DATABASE IF EXISTS {name}")
    try:
        _admin(postgres_url, f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8'")
    except psycopg.Error as exc:  # a server without that locale: nothing to measure here
        pytest.skip(f"cannot create a C.UTF-8 database: {exc}")
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        drop_database(postgres_url, url)


@pytest.mark.postgres
def test_postgres_uses_the_trigram_index_under_a_utf8_locale(utf8_postgres: str) -> None:
    engine = db.make_engine(DatabaseSettings(url=utf8_postgres))
    try:
        db.upgrade(engine)
        store = Store(engine, DedupSettings())
        put(store, 1, title="西津渡古街", body=filler(1), day=1)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT show_trgm('西津渡')")).scalar()
            conn.execute(text("SET enable_seqscan = off"))
            plan = conn.execute(
                text("EXPLAIN SELECT article_id FROM search_documents WHERE title ILIKE '%西津渡%'")
            ).scalars()
            assert "ix_search_documents_title_trgm" in "\n".join(plan)
        assert [h.title for h in store.search("西津渡")] == ["西津渡古街"]
    finally:
        engine.dispose()


def test_short_terms_alone_on_the_index_table(store: Store, archive: dict[str, int]) -> None:
    # the condition on its own, as the planner may use it to scan the index (SQLite's FTS5 claims a
    # LIKE on its columns and, for 1–2 CJK characters, finds nothing: the reason for instr)
    with store.engine.connect() as conn:
        docs = search._docs(conn)
        for term, n in (("镇江", 2), ("市", 1), ("西津渡", 2)):
            q = select(func.count()).select_from(docs).where(search._contains(conn, docs.c.body, term))
            assert conn.execute(q).scalar() == n, term


@pytest.mark.postgres
def test_postgres_under_a_c_locale_says_the_index_cannot_help(
    postgres_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = db.make_engine(DatabaseSettings(url=postgres_db_url))  # the test server's locale is C
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            if conn.execute(text("SELECT show_trgm('镇江市')")).scalar():
                pytest.skip("this server's LC_CTYPE lets pg_trgm index Chinese (not the C locale)")
        store = Store(engine, DedupSettings())
        archive = fill(store)
        with caplog.at_level(logging.WARNING, logger="service.store.search"):
            assert ids(store.search("西津渡")) == [archive["xijindu"], archive["jiaoshan"]]
            store.search("镇江")
        assert caplog.text.count("pg_trgm finds no trigrams in Chinese text") == 1  # once per engine
    finally:
        engine.dispose()


def test_sqlite_without_the_trigram_tokenizer_scans_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'old.db'}"))
    try:
        with monkeypatch.context() as m:  # what migration 0003 sees on a SQLite before 3.34
            m.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
            db.upgrade(engine)
        with engine.connect() as conn:
            sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'search_documents'")).scalar()
        assert sql is not None and "fts5" not in sql.lower()
        store = Store(engine, DedupSettings())
        archive = fill(store)
        with caplog.at_level(logging.WARNING, logger="service.store.search"):
            hits = store.search("西津渡")
        assert "without the FTS5 trigram tokenizer" in caplog.text
        # the same answers and scores as with FTS5: occurrences, title ×4
        assert ids(hits) == [archive["xijindu"], archive["jiaoshan"]]
        assert [h.score for h in hits] == [4 + 2, 1]
        assert sorted(ids(store.search("镇江"))) == sorted([archive["xijindu"], archive["jinshan"]])
        assert ids(store.search("北固山")) == [archive["beigu_new"], archive["beigu_old"]]
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM search_documents"))
        assert store.reindex() == 5 and len(store.search("西津渡")) == 2
    finally:
        engine.dispose()


def test_store_only_notes_the_change_and_search_catches_up(store: Store) -> None:
    article = make_article(url_of(40), text=filler(40) + "焦山碑林" + filler(41), title="焦山碑林")
    out = store.store_article(article, url_id=None, fetch_id=None, seen_at=SEEN)
    assert search_rows(store.engine) == 0  # the write path did not index
    assert ids(store.search("焦山碑林")) == [out.article_id]  # a search refreshes first
    assert search_rows(store.engine) == 1 and store.refresh_search() == 0
