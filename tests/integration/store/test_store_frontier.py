"""The frontier on both databases: idempotent adds, due order, leases and their expiry, finishing."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from service.store import frontier
from service.store.repo import NewUrl, Store
from service.store.sql import explain
from tests.integration.store.builders import SEEN

BASE = "https://www.jsw.com.cn/2026/03{:02d}/19{:05d}.shtml"


def new(n: int, *, due: datetime = SEEN, day: int = 1, kind: str = "article", priority: int = 0) -> NewUrl:
    return NewUrl(BASE.format(day, n), kind, "https://www.jsw.com.cn/", due, date(2026, 3, day), priority)


def test_add_urls_is_idempotent_and_counts_new(store: Store) -> None:
    assert store.add_urls([new(1), new(2), new(2)]) == 2
    variants = [
        NewUrl("http://jsw.com.cn/2026/0301/1900001.shtml?utm_source=x#c", "article", None, SEEN),
        new(1),
    ]
    assert store.add_urls(variants) == 0
    assert store.add_urls([new(3)]) == 1
    assert store.frontier_counts()["new"] == 3


def test_known_before_is_what_the_archive_held_at_a_time(store: Store) -> None:
    store.add_urls([new(1)])
    variant = "http://jsw.com.cn/2026/0301/1900001.shtml?utm_source=x#c"
    now = datetime.now(UTC)
    asked = [new(1).url, variant, new(2).url]
    assert store.known_before(asked, now + timedelta(minutes=5)) == {new(1).url, variant}
    assert store.known_before(asked, now - timedelta(minutes=5)) == set()  # added since: not known then
    assert store.known_before([], now) == set()


def test_earlier_due_wins_later_does_not(store: Store) -> None:
    store.add_urls([new(1, due=SEEN + timedelta(hours=2))])
    store.add_urls([new(1, due=SEEN + timedelta(hours=5))])
    assert store.claim_due(limit=5, now=SEEN + timedelta(hours=1), lease_s=60, worker="w") == []
    store.add_urls([new(1, due=SEEN)])
    assert len(store.claim_due(limit=5, now=SEEN + timedelta(hours=1), lease_s=60, worker="w")) == 1


def test_finished_urls_are_not_resurrected_by_rediscovery(store: Store) -> None:
    store.add_urls([new(1)])
    (claimed,) = store.claim_due(limit=1, now=SEEN, lease_s=60, worker="w")
    store.finish_url(claimed.id, state="done", next_due_at=None, status=200, etag='"abc"')
    store.add_urls([new(1, due=SEEN)])
    assert store.claim_due(limit=5, now=SEEN + timedelta(days=1), lease_s=60, worker="w") == []
    assert store.frontier_counts()["done"] == 1


def test_claim_order_filters_and_limit(store: Store) -> None:
    store.add_urls([new(1, due=SEEN - timedelta(hours=1)), new(2, priority=5), new(3), new(4, day=9)])
    store.add_urls([new(5, kind="hub"), new(6, due=SEEN + timedelta(hours=1))])
    first = store.claim_due(limit=2, now=SEEN, lease_s=60, worker="w")
    assert [c.url for c in first] == [BASE.format(1, 2), BASE.format(1, 1)]  # priority, then overdue
    hubs = store.claim_due(limit=9, now=SEEN, lease_s=60, worker="w", kinds=["hub"])
    assert [c.kind for c in hubs] == ["hub"]
    window = (date(2026, 3, 5), date(2026, 3, 10))
    dated = store.claim_due(limit=9, now=SEEN, lease_s=60, worker="w", published_between=window)
    assert [c.published_on for c in dated] == [date(2026, 3, 9)]
    rest = store.claim_due(limit=9, now=SEEN, lease_s=60, worker="w")
    assert [c.url for c in rest] == [BASE.format(1, 3)]  # 6 is not due yet
    assert store.frontier_counts() == {**dict.fromkeys(store.frontier_counts(), 0), "fetching": 5, "new": 1}


def test_a_lease_that_runs_out_makes_the_url_claimable_again(store: Store) -> None:
    store.add_urls([new(1)])
    (a,) = store.claim_due(limit=5, now=SEEN, lease_s=300, worker="dead")
    assert store.claim_due(limit=5, now=SEEN + timedelta(seconds=299), lease_s=300, worker="w2") == []
    (b,) = store.claim_due(limit=5, now=SEEN + timedelta(seconds=301), lease_s=300, worker="w2")
    assert a.id == b.id


def test_finish_states_attempts_and_validators(store: Store) -> None:
    store.add_urls([new(1)])
    (c,) = store.claim_due(limit=1, now=SEEN, lease_s=60, worker="w")
    store.finish_url(
        c.id, state="retry", next_due_at=SEEN + timedelta(minutes=5), error="timeout", status=503
    )
    assert store.claim_due(limit=1, now=SEEN + timedelta(minutes=4), lease_s=60, worker="w") == []
    (c2,) = store.claim_due(limit=1, now=SEEN + timedelta(minutes=5), lease_s=60, worker="w")
    assert c2.attempts == 1
    store.finish_url(c2.id, state="retry", next_due_at=SEEN + timedelta(minutes=10), error="reset")
    (c3,) = store.claim_due(limit=1, now=SEEN + timedelta(minutes=10), lease_s=60, worker="w")
    assert c3.attempts == 2
    revisit = SEEN + timedelta(hours=6)
    store.finish_url(
        c3.id,
        state="done",
        next_due_at=revisit,
        status=200,
        etag='"e1"',
        last_modified="Sun, 01 Mar 2026",
        payload_digest="sha1:X",
        reset_attempts=True,
    )
    (c4,) = store.claim_due(limit=1, now=revisit, lease_s=60, worker="w")
    assert (c4.attempts, c4.etag, c4.last_modified, c4.payload_digest) == (
        0,
        '"e1"',
        "Sun, 01 Mar 2026",
        "sha1:X",
    )
    store.finish_url(c4.id, state="gone", next_due_at=None, status=404)
    assert store.stats()["frontier"]["gone"] == 1
    with pytest.raises(ValueError, match="unknown URL state"):
        store.finish_url(c4.id, state="bogus", next_due_at=None)
    with pytest.raises(KeyError):
        store.finish_url(999_999, state="done", next_due_at=None)


def test_record_fetch_is_idempotent_and_links_the_article(store: Store) -> None:
    from tests.integration.store.builders import make_article

    store.add_urls([new(1)])
    (c,) = store.claim_due(limit=1, now=SEEN, lease_s=60, worker="w")
    run_id = store.start_run("cycle", {})
    kw = dict(
        status=200,
        warc_file="a.warc.gz",
        warc_offset=10,
        warc_length=99,
        payload_digest="sha1:A",
        error=None,
        elapsed_s=0.2,
        run_id=run_id,
    )
    f1 = store.record_fetch(c.id, fetched_at=SEEN, **kw)  # type: ignore[arg-type]
    assert store.record_fetch(c.id, fetched_at=SEEN, **kw) == f1  # type: ignore[arg-type]
    f2 = store.record_fetch(c.id, fetched_at=SEEN + timedelta(hours=1), **kw)  # type: ignore[arg-type]
    assert f2 != f1 and store.stats()["counts"]["fetches"] == 2
    out = store.store_article(make_article(c.url), url_id=c.id, fetch_id=f1, seen_at=SEEN)
    store.finish_url(c.id, state="done", next_due_at=SEEN + timedelta(hours=1))
    (again,) = store.claim_due(limit=1, now=SEEN + timedelta(hours=1), lease_s=60, worker="w")
    assert again.article_id == out.article_id


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.add_urls([new(1, due=datetime(2026, 3, 1))])


def test_concurrent_claims_never_hand_out_a_url_twice(store: Store) -> None:
    store.add_urls([new(n) for n in range(60)])
    got: list[list[int]] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        mine: list[int] = []
        for _ in range(5):
            mine += [c.id for c in store.claim_due(limit=4, now=SEEN, lease_s=60, worker=name)]
        got.append(mine)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ids = [i for mine in got for i in mine]
    assert len(ids) == 60 and len(set(ids)) == 60


def _state(store: Store, url_id: int) -> tuple[str, int, str | None]:
    from sqlalchemy import select

    from service.store.schema import urls

    with store.engine.connect() as conn:
        row = conn.execute(
            select(urls.c.state, urls.c.attempts, urls.c.last_error).where(urls.c.id == url_id)
        ).one()
    return row.state, row.attempts, row.last_error


def test_a_claim_that_dies_counts_as_an_attempt_and_parks_the_url(store: Store) -> None:
    # a page that kills (or hangs) its worker every time: the lease runs out, again and again
    store.add_urls([new(1)])
    now = SEEN
    (first,) = store.claim_due(limit=1, now=now, lease_s=60, worker="w", max_attempts=3)
    assert first.attempts == 0
    for expected in (1, 2):
        now += timedelta(seconds=61)
        (again,) = store.claim_due(limit=1, now=now, lease_s=60, worker="w", max_attempts=3)
        assert again.attempts == expected
    now += timedelta(seconds=61)
    assert store.claim_due(limit=1, now=now, lease_s=60, worker="w", max_attempts=3) == []
    state, attempts, error = _state(store, first.id)
    assert (state, attempts) == ("failed", 3)
    assert error and "died or hung" in error


def test_leases_of_dead_workers_count_an_attempt_a_clean_hand_back_does_not(store: Store) -> None:
    store.add_urls([new(1), new(2)])
    a, b = store.claim_due(limit=2, now=SEEN, lease_s=60, worker="dead")
    assert store.release_leases(["dead"], max_attempts=2) == 2
    assert _state(store, a.id)[:2] == ("retry", 1)
    later = datetime.now(UTC) + timedelta(days=1)  # released URLs are due at the real now
    (a2,) = store.claim_due(limit=1, now=later, lease_s=60, worker="dead")
    assert a2.id == a.id
    assert store.release_leases(["dead"], max_attempts=2) == 1
    assert _state(store, a.id)[:2] == ("failed", 2)
    (b3,) = store.claim_due(limit=2, now=later + timedelta(days=1), lease_s=60, worker="alive")
    assert store.release_leases(["alive"]) == 1  # a stop hands it back as it is
    assert b3.id == b.id and _state(store, b.id)[:2] == ("retry", 1)


def test_the_check_for_dead_claims_reads_only_the_leased_urls(store: Store) -> None:
    """Before each claim: the leased URLs whose lease ran out, through ``ix_urls_fetching``, on a
    frontier shaped as the crawl leaves it (due URLs, a few leased) and never analysed. Its plan
    once read the whole claim index on SQLite: a cost per claim that grew with the frontier."""
    store.add_urls(
        NewUrl(f"https://www.jsw.com.cn/2026/0301/{i}.shtml", "article", None, SEEN) for i in range(3000)
    )
    store.claim_due(limit=8, now=SEEN, lease_s=60, worker="w:1", max_attempts=3)
    params = {"now": SEEN, "max": 3, "error": "died"}
    with store.engine.connect() as conn:
        text = "\n".join(explain(conn, frontier._PARK_EXPIRED, params))
    assert "ix_urls_fetching" in text, text
    assert "ix_urls_claim" not in text and "Seq Scan" not in text, text
