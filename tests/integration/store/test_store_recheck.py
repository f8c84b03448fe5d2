"""The store's side of keeping the archive current, on both databases: what ``jinshan recheck``
marks (one URL per article, the range, the channel, the gone ones, a resumed run), claims by
priority band, an article that came back, the site's changes newest first, how late articles
changed, and migration 0011 on an archive of the 0010 code."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select, update

from service.crawl.schedule import FRESH_ONLY, RECHECK_PRIORITY, SWEEP_PRIORITY
from service.settings import DedupSettings
from service.store import NewUrl, db
from service.store.changes import recent
from service.store.recheck import RecheckRange, change_ages
from service.store.repo import Store
from service.store.schema import articles, urls
from tests.integration.store.builders import CST, SEEN, make_article

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BAND = (RECHECK_PRIORITY, RECHECK_PRIORITY)


def _fetched(store: Store, url: str, *, day: int, channel: str = "镇江新闻", seed: int = 0) -> int:
    """An article fetched through the frontier (its URL row "done", no next check); its URL id."""
    store.add_urls([NewUrl(url, "article", None, SEEN)])
    claimed = [c for c in store.claim_due(limit=50, now=SEEN, lease_s=60, worker="t") if c.url == url]
    for other in store.claim_due(limit=50, now=SEEN, lease_s=60, worker="t"):
        store.finish_url(other.id, state="new", next_due_at=SEEN)
    article = make_article(url, seed=seed or day, channel=channel,
                           published_at=datetime(2026, 10, day, 9, 0, tzinfo=CST))  # fmt: skip
    store.store_fetched(article, url_id=claimed[0].id, fetch=_fetch(SEEN), next_due_at=None, etag='"e"',
                        last_modified=None, published_at=article.published_at)  # fmt: skip
    return claimed[0].id


def _fetch(at: datetime) -> dict[str, object]:
    return {"status": 200, "fetched_at": at, "warc_file": None, "warc_offset": None, "warc_length": None,
            "payload_digest": None, "error": None, "elapsed_s": None, "run_id": None}  # fmt: skip


def _url(day: int, n: int) -> str:
    return f"https://www.jsw.com.cn/2026/10{day:02d}/19{n:05d}.shtml"


def test_mark_makes_one_url_per_article_of_the_range_due(store: Store) -> None:
    ids = {day: _fetched(store, _url(day, day), day=day, channel="社会" if day == 3 else "镇江新闻")
           for day in (1, 2, 3, 5)}  # fmt: skip
    # the article of day 2 was also fetched under an address that redirected to it: one request only
    store.add_urls([NewUrl("https://www.jsw.com.cn/2026/1001/1900002.shtml", "article", None, SEEN)])
    with store.engine.begin() as conn:
        article_of_2 = conn.execute(select(urls.c.article_id).where(urls.c.id == ids[2])).scalar_one()
        conn.execute(update(urls).where(urls.c.url.like("%1001/1900002%")).values(state="done", article_id=article_of_2))
    # a channel, and an open range
    assert store.count_recheck(RecheckRange(channel="社会")) == 1
    assert store.count_recheck(RecheckRange(since=date(2026, 10, 4))) == 1
    rng = RecheckRange(since=date(2026, 10, 2), until=date(2026, 10, 3))
    assert store.count_recheck(rng) == 2
    assert store.mark_recheck(rng, priority=RECHECK_PRIORITY, now=NOW) == 2
    assert store.mark_recheck(rng, priority=RECHECK_PRIORITY, now=NOW) == 2  # idempotent
    claimed = store.claim_due(limit=50, now=NOW, lease_s=60, worker="r", priorities=BAND)
    assert sorted(c.id for c in claimed) == sorted([ids[2], ids[3]])
    assert all(c.priority == RECHECK_PRIORITY and c.published_at is not None for c in claimed)
    # a URL leased to a worker is not marked again
    assert store.count_recheck(rng) == 0


def test_a_resumed_recheck_skips_what_it_checked_and_retries_what_failed(store: Store) -> None:
    ids = [_fetched(store, _url(d, d), day=d) for d in (1, 2, 3)]
    began = SEEN + timedelta(hours=1)
    with store.engine.begin() as conn:  # since the run began: one checked, one failed
        conn.execute(update(urls).where(urls.c.id == ids[0]).values(last_fetched_at=began + timedelta(minutes=1)))
        conn.execute(update(urls).where(urls.c.id == ids[1])
                     .values(last_fetched_at=began + timedelta(minutes=2), state="retry"))  # fmt: skip
    rng = RecheckRange(checked_before=began)
    assert store.mark_recheck(rng, priority=RECHECK_PRIORITY, now=NOW) == 2
    claimed = store.claim_due(limit=50, now=NOW, lease_s=60, worker="r", priorities=BAND)
    assert sorted(c.id for c in claimed) == sorted(ids[1:])


def test_gone_articles_are_rechecked_apart_and_come_back(store: Store) -> None:
    live = _fetched(store, _url(1, 1), day=1)
    gone = _fetched(store, _url(2, 2), day=2)
    assert store.mark_gone(_url(2, 2), SEEN)
    assert store.count_recheck(RecheckRange()) == 1 and store.count_recheck(RecheckRange(gone=True)) == 1
    store.mark_recheck(RecheckRange(gone=True), priority=RECHECK_PRIORITY, now=NOW)
    claimed = store.claim_due(limit=50, now=NOW, lease_s=60, worker="r", priorities=BAND)
    assert [c.id for c in claimed] == [gone] and live != gone
    article_id = claimed[0].article_id
    assert article_id is not None
    assert store.came_back(article_id) and not store.came_back(article_id)
    assert store.count_recheck(RecheckRange(gone=True)) == 0


def test_a_claim_band_keeps_sweep_checks_back(store: Store) -> None:
    store.add_urls([NewUrl(_url(1, n), "article", None, SEEN) for n in range(4)])
    first = store.claim_due(limit=4, now=SEEN, lease_s=60, worker="t")
    for n, item in enumerate(first):
        priority = SWEEP_PRIORITY if n < 2 else 0
        store.finish_url(item.id, state="done", next_due_at=NOW - timedelta(seconds=n), priority=priority)
    fresh = store.claim_due(limit=10, now=NOW, lease_s=60, worker="t", priorities=FRESH_ONLY)
    assert len(fresh) == 2 and all(c.priority == 0 for c in fresh)
    rest = store.claim_due(limit=10, now=NOW, lease_s=60, worker="t")
    assert len(rest) == 2 and all(c.priority == SWEEP_PRIORITY for c in rest)


def test_changes_newest_first_and_how_late_articles_changed(store: Store) -> None:
    published = datetime(2026, 3, 1, 9, 0, tzinfo=CST)
    lags = {1: timedelta(hours=2), 2: timedelta(days=3), 3: timedelta(days=40), 4: timedelta(days=400)}
    for n, lag in lags.items():
        url = f"https://www.jsw.com.cn/2026/0301/19{n:05d}.shtml"
        channel = "社会" if n == 4 else "镇江新闻"
        store.store_article(make_article(url, seed=n, published_at=published, channel=channel),
                            url_id=None, fetch_id=None, seen_at=published)  # fmt: skip
        store.store_article(make_article(url, seed=n, title="改过的标题", published_at=published, channel=channel),
                            url_id=None, fetch_id=None, seen_at=published + lag)  # fmt: skip
    store.store_article(make_article(_url(9, 9), seed=9, published_at=published), url_id=None, fetch_id=None,
                        seen_at=published)  # fmt: skip
    store.mark_gone(_url(9, 9), (published + timedelta(days=5)).astimezone(UTC))
    with store.engine.connect() as conn:
        assert change_ages(conn) == {"1 day": 3, "1 week": 2, "1 month": 2, "1 year": 1}
        found = recent(conn, limit=10)
        assert [(c.kind, c.at - published) for c in found] == [
            ("edited", lags[4]), ("edited", lags[3]), ("deleted", timedelta(days=5)),
            ("edited", lags[2]), ("edited", lags[1]),
        ]  # fmt: skip
        assert all(c.version == 2 for c in found if c.kind == "edited")
        older = recent(conn, before=found[1].at, limit=2)
        assert [c.at for c in older] == [found[2].at, found[3].at]
        assert [c.kind for c in recent(conn, kinds=("deleted",))] == ["deleted"]
        assert [c.channel for c in recent(conn, channel="社会")] == ["社会"]
    assert store.stats()["changed_after"]["1 year"] == 1


def test_0011_puts_every_stored_article_of_an_older_archive_on_schedule(engine: Engine) -> None:
    store = Store(engine, DedupSettings())
    ids = [_fetched(store, _url(d, d), day=d) for d in (1, 2)]
    db.downgrade(engine, "0010")  # as the 0010 code left it: revisits over, due_at NULL
    db.upgrade(engine)
    now = datetime.now(UTC)
    with engine.connect() as conn:
        rows = conn.execute(select(urls.c.id, urls.c.due_at, urls.c.priority, urls.c.published_at)
                            .where(urls.c.id.in_(ids))).all()  # fmt: skip
        published = dict(conn.execute(select(articles.c.id, articles.c.published_at)).all())
    assert len(rows) == 2
    for _, due, priority, anchor in rows:
        assert now - timedelta(minutes=5) < due <= now + timedelta(days=180)
        assert priority == SWEEP_PRIORITY and anchor in published.values()
