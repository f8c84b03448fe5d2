"""``reparse`` and the URLs refused as not articles: recovered from the archive when the extractor
accepts them now, put back in the frontier when the archive does not hold their response; either
way a second run does nothing new. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from service.crawl import reextract
from service.crawl.reparse import reparse
from service.fetch.archive import Exchange, WarcArchive
from service.settings import Settings, load_settings
from service.store.repo import Store
from service.store.schema import urls
from service.store.types import NewUrl

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "pages" / "cm_project_rally.html"
ARTICLE_URL = "https://www.jsw.com.cn/2024/0128/1801234.shtml"
FETCHED = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture()
def archive_settings(tmp_path: Path) -> Settings:
    return load_settings(environ={}, overrides={"archive": {"path": str(tmp_path / "warc")}})


def refused_url(store: Store, url: str, *, response: bytes | None, archive: WarcArchive | None = None) -> int:
    """A URL the crawl refused as not an article, with its archived response when one is given."""
    store.add_urls([NewUrl(url, "article", None, FETCHED)])
    (item,) = store.claim_due(limit=1, now=FETCHED + timedelta(seconds=1), lease_s=60, worker="t")
    if response is not None and archive is not None:
        ref = archive.write(
            Exchange(url=ARTICLE_URL, method="GET", request_target="/", request_headers=(), http_version="HTTP/1.1",
                     status=200, reason="OK", response_headers=(("Content-Type", "text/html; charset=utf-8"),),
                     payload=response, fetched_at=FETCHED)
        )  # fmt: skip
        store.record_fetch(item.id, status=200, fetched_at=FETCHED, warc_file=ref.filename, warc_offset=ref.offset,
                           warc_length=ref.length, payload_digest=None, error=None, elapsed_s=None, run_id=None)  # fmt: skip
    store.finish_url(
        item.id, state="not_article", next_due_at=None, error="not_article: no_title", status=200
    )
    return item.id


def url_row(store: Store, url_id: int) -> dict[str, object]:
    with store.engine.connect() as conn:
        return dict(conn.execute(select(urls).where(urls.c.id == url_id)).one()._mapping)


def test_a_refused_url_without_archived_response_goes_back_to_the_frontier(
    store: Store, archive_settings: Settings
) -> None:
    url_id = refused_url(store, "https://www.jsw.com.cn/2024/0128/1801999.shtml", response=None)
    started = datetime.now(UTC)
    first = reparse(archive_settings, store, since=None, until=None, workers=1)
    assert first.counts["requeued"] == 1 and first.counts["recovered"] == 0
    row = url_row(store, url_id)
    assert row["state"] == "new" and row["attempts"] == 0
    due = row["due_at"]
    assert isinstance(due, datetime) and started - timedelta(minutes=1) <= due <= datetime.now(UTC)
    assert "no archived response" in str(row["last_error"])
    again = reparse(archive_settings, store, since=None, until=None, workers=1)
    assert sum(again.counts.values()) == 0 and url_row(store, url_id)["due_at"] == due
    claimed = store.claim_due(limit=10, now=datetime.now(UTC), lease_s=60, worker="test")
    assert [c.id for c in claimed] == [url_id]  # the next drain fetches it


def test_a_refused_url_whose_warc_file_is_gone_goes_back_to_the_frontier(
    store: Store, archive_settings: Settings
) -> None:
    archive = WarcArchive(archive_settings.archive.path)
    url_id = refused_url(store, ARTICLE_URL, response=FIXTURE.read_bytes(), archive=archive)
    for file in Path(archive_settings.archive.path).iterdir():
        file.unlink()
    done = reparse(archive_settings, store, since=None, until=None, workers=1)
    assert done.counts["requeued"] == 1 and url_row(store, url_id)["state"] == "new"


def test_a_refused_page_the_extractor_accepts_now_is_stored_as_the_crawl_would(
    store: Store, archive_settings: Settings
) -> None:
    archive = WarcArchive(archive_settings.archive.path)
    # the URL redirected (the day folder of the day before) to the article's own address
    moved = "https://www.jsw.com.cn/2024/0127/1801234.shtml"
    url_id = refused_url(store, moved, response=FIXTURE.read_bytes(), archive=archive)
    first = reparse(archive_settings, store, since=None, until=None, workers=2)
    assert first.counts["recovered"] == 1 and sum(first.counts.values()) == 1
    row = url_row(store, url_id)
    article_id = store.article_for_url(ARTICLE_URL)
    assert row["state"] == "done" and row["article_id"] == article_id is not None
    assert store.article_for_url(moved) == article_id  # the redirect recorded as an alias
    (version,) = store.versions(article_id)
    assert version["title"] == "镇江市项目攻坚暨产业强市大会召开"
    again = reparse(archive_settings, store, since=None, until=None, workers=1)
    assert again.counts["recovered"] == 0 and again.counts["unchanged"] == 1
    assert len(store.versions(article_id)) == 1


def test_an_interrupted_pass_over_refused_urls_resumes_after_the_last_one_written(
    store: Store, archive_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reextract, "CHUNK", 1)  # one URL per chunk: a stop can fall between two
    ids = [
        refused_url(store, f"https://www.jsw.com.cn/2024/0128/18020{n}.shtml", response=None)
        for n in range(3)
    ]
    seen: list[int] = []
    first = reparse(archive_settings, store, since=None, until=None, workers=1,
                    should_stop=lambda: len(seen) >= 1, on_progress=lambda p: seen.append(p.last_url_id))  # fmt: skip
    assert first.counts["requeued"] == 1 and first.last_url_id == ids[0] and first.articles_done
    second = reparse(archive_settings, store, since=None, until=None, workers=1)
    assert second.total == 2 and second.counts["requeued"] == 2
    assert {url_row(store, i)["state"] for i in ids} == {"new"}
