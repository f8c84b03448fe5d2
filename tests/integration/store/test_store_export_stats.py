"""Runs, export (JSON lines and CSV, streamed) and stats on both databases."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from service.model import CREDIT_ROLES
from service.settings import DatabaseSettings
from service.store import db, export
from service.store.repo import Store
from tests.integration.store.builders import CST, SEEN, make_article

ARTICLE_JSON_FIELDS = (
    "url", "site_id", "title", "subtitle", "published_at", "channel", "source", "lead", "body_text",
    "images", *CREDIT_ROLES, "fields_from",
)  # fmt: skip
STORAGE_FIELDS = ("aliases", "duplicate_of", "version", "first_seen_at", "last_changed_at", "gone_at")


def fill(store: Store, n: int, *, day0: int = 1) -> None:
    for i in range(n):
        day = day0 + i % 5
        a = make_article(
            f"https://www.jsw.com.cn/2026/03{day:02d}/19{i:05d}.shtml",
            seed=1000 + i,
            site_id=f"19{i:05d}",
            published_at=datetime(2026, 3, day, 9, 0, tzinfo=CST),
        )
        store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(minutes=i))


def test_runs_merge_counters_and_finish(store: Store) -> None:
    first = store.start_run("backfill", {"since": "2026-03-01"})
    second = store.start_run("cycle", {})
    store.update_run(second, {"fetched": 3, "stored": 1})
    store.update_run(second, {"fetched": 5})
    store.finish_run(second, status="ok", counters={"errors": 0})
    runs = store.last_runs()
    assert [r["id"] for r in runs] == [second, first]
    assert runs[0]["counters"] == {"fetched": 5, "stored": 1, "errors": 0}
    assert runs[0]["status"] == "ok" and runs[0]["finished_at"] is not None
    assert runs[1]["params"] == {"since": "2026-03-01"} and runs[1]["status"] == "running"
    assert store.interrupt_running() == 1
    with pytest.raises(ValueError):
        store.finish_run(first, status="great", counters={})


def test_export_rows_follow_the_contract(store: Store) -> None:
    a = make_article(site_id="1900001", subtitle="副题", channel="镇江新闻", lead="金山网讯")
    out = store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN)
    mirror = make_article("https://www.jsw.com.cn/2026/0301/9999.shtml", text=a.normalized_text)
    store.store_article(mirror, url_id=None, fetch_id=None, seen_at=SEEN)
    (row,) = list(store.iter_export(since=None, until=None))
    assert tuple(row) == ARTICLE_JSON_FIELDS + STORAGE_FIELDS
    expected = a.to_json()
    assert {k: row[k] for k in ARTICLE_JSON_FIELDS} == expected
    assert row["aliases"] == ["https://www.jsw.com.cn/2026/0301/9999.shtml"]
    assert row["duplicate_of"] is None and row["version"] == out.version == 1
    assert datetime.fromisoformat(row["first_seen_at"]) == SEEN
    assert datetime.fromisoformat(row["published_at"]).utcoffset() == timedelta(hours=8)


def test_export_filters_by_publication_date(store: Store) -> None:
    fill(store, 10)
    undated = make_article("https://www.jsw.com.cn/2026/0301/8888.shtml", seed=5, published_at=None)
    store.store_article(undated, url_id=None, fetch_id=None, seen_at=SEEN)
    assert len(list(store.iter_export(since=None, until=None))) == 11
    picked = list(store.iter_export(since=date(2026, 3, 2), until=date(2026, 3, 3)))
    assert sorted({r["published_at"][:10] for r in picked}) == ["2026-03-02", "2026-03-03"]
    assert len(picked) == 4


def test_export_streams_page_by_page(store: Store) -> None:
    fill(store, 25)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    rows = store.iter_export(since=None, until=None, page=10)
    first = next(rows)
    assert first["url"].endswith("1900000.shtml")
    assert len([s for s in statements if "FROM articles" in s]) == 1  # one page read so far, not all
    rest = list(rows)
    assert len(rest) == 24 and len([s for s in statements if "FROM articles" in s]) == 3


def test_jsonl_and_csv_writers(store: Store) -> None:
    fill(store, 3)
    buf = io.StringIO()
    assert export.write_jsonl(store.iter_export(since=None, until=None), buf) == 3
    lines = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert [tuple(x) for x in lines] == [export.EXPORT_FIELDS] * 3
    assert "张三" in buf.getvalue()  # not \\u-escaped
    buf = io.StringIO()
    assert export.write_csv(store.iter_export(since=None, until=None), buf) == 3
    table = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert tuple(table[0]) == export.EXPORT_FIELDS
    assert table[0]["reporters"] == "张三; 李四"
    assert json.loads(table[0]["images"]) == [
        {"url": "https://www.jsw.com.cn/img/1.jpg", "caption": "图为现场"}
    ]
    assert table[0]["body_text"] == lines[0]["body_text"]  # newlines survive CSV quoting


def test_stats_counts_and_no_secrets(store: Store, db_url: str) -> None:
    fill(store, 4)
    store.mark_gone("https://www.jsw.com.cn/2026/0301/1900000.shtml", SEEN)
    changed = make_article("https://www.jsw.com.cn/2026/0302/1900001.shtml", seed=1001, title="改")
    store.store_article(changed, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(days=1))
    url = db_url
    if url.startswith("postgresql"):  # trust authentication accepts any password: give one to hide
        url = make_url(url).set(password="s3cr3t-pw").render_as_string(hide_password=False)
    engine = db.make_engine(DatabaseSettings(url=url))
    try:
        stats = Store(engine, store.dedup).stats()
    finally:
        engine.dispose()
    text = json.dumps(stats, ensure_ascii=False, default=str)
    assert "s3cr3t-pw" not in text
    c = stats["counts"]
    assert (c["articles"], c["versions"], c["changed_articles"], c["gone"], c["duplicates"]) == (
        4,
        5,
        1,
        1,
        0,
    )
    assert stats["fill_rates"]["sample"] == 4 and stats["fill_rates"]["rates"]["reporters"] == 1.0
    assert stats["fill_rates"]["rates"]["subtitle"] == 0.0
    assert set(stats["frontier"]) >= {"new", "fetching", "done", "gone"}
