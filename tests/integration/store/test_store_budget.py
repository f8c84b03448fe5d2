"""Politeness shared across processes (service/store/budget.py) on both databases, on a fake clock:
batches of starts, places in flight, starts given back, claims taking turns, holds, Crawl-delay."""

from __future__ import annotations

import pytest

from service.store import budget
from service.store.repo import Store

HOST = "www.jsw.com.cn"


def reserve(
    store: Store,
    now: float,
    *,
    interval: float = 0.2,
    concurrency: int = 2,
    span_s: float = 0.0,
    places: int = 1,
    claim: int | None = None,
    holder: str = "test",
) -> budget.Grant:
    return store._write(lambda c: budget.reserve(c, HOST, clock=lambda: now, interval=interval,
                        concurrency=concurrency, holder=holder, lease_s=60, span_s=span_s, places=places,
                        claim=claim), what="reserve")  # fmt: skip


def finish(store: Store, grant: budget.Grant, resume_at: float) -> None:
    store.end_requests(HOST, grant.tokens, end=grant.end, resume_at=resume_at)


def test_spacing_keeps_the_rate_within_any_window() -> None:
    # 5/s: 0.24 s apart, so 6 starts span 1.2 s; 1/s: 1.2 s; slower than 1/s: the interval itself
    assert budget.spacing(0.2, 0.0) == pytest.approx(0.24)
    assert budget.spacing(1.0, 0.0) == pytest.approx(1.2)
    assert budget.spacing(1.0, 10.0) == pytest.approx(10.0)
    for interval in (0.001, 0.2, 0.3, 0.5, 1.0, 2.0):
        step = budget.spacing(interval, 0.0)
        per_second = max(1, int(1 / interval + 1e-9))
        assert step >= interval and per_second * step >= budget.WINDOW_S - 1e-9


def test_a_batch_takes_the_starts_of_a_second_and_the_next_process_waits_for_them(store: Store) -> None:
    first = reserve(store, 1000.0, span_s=1.0, places=2)
    assert first.token is not None and len(first.tokens) == 2
    assert (first.starts, first.spacing, first.end) == (4, pytest.approx(0.24), pytest.approx(1000.96))
    other = reserve(store, 1000.5, span_s=1.0, places=2, holder="other")
    assert other.token is None and other.wait == pytest.approx(0.46) and other.claim is not None
    # the first process sent two starts (1000.0, 1000.24) and stops: the rest goes back
    finish(store, first, resume_at=1000.48)
    again = reserve(store, 1000.5, span_s=1.0, places=2, claim=other.claim, holder="other")
    assert again.token is not None and again.at == 1000.5


def test_starts_given_back_only_when_nobody_reserved_after(store: Store) -> None:
    first = reserve(store, 2000.0, span_s=1.0)
    finish(store, first, resume_at=2000.24)
    second = reserve(store, 2000.3, span_s=1.0)  # at once: the unused starts came back
    assert second.token is not None
    third = reserve(store, 2001.0, span_s=1.0, holder="third")  # waits for the second batch's end
    assert third.token is None and third.wait == pytest.approx(second.end - 2001.0)
    # a late give-back of the first batch must not pull the host's next start before the second's end
    finish(store, first, resume_at=2000.24)
    assert reserve(store, 2001.0, span_s=1.0, claim=third.claim, holder="third").token is None


def test_places_in_flight_are_capped_and_claims_take_turns(store: Store) -> None:
    a = reserve(store, 3000.0, span_s=1.0, places=2, holder="a")
    assert len(a.tokens) == 2
    # the batch is over in time, but its two requests are still in flight: no place for b
    b = reserve(store, 3001.0, span_s=1.0, places=2, holder="b")
    assert b.token is None and b.wait == budget.FULL_POLL_S and b.claim is not None
    store.end_requests(HOST, a.tokens, end=a.end, resume_at=a.end)
    # a asks again first, but b has been waiting: a waits its turn
    a2 = reserve(store, 3001.01, span_s=1.0, places=2, holder="a")
    assert a2.token is None and a2.claim is not None
    b2 = reserve(store, 3001.02, span_s=1.0, places=2, claim=b.claim, holder="b")
    assert b2.token is not None and len(b2.tokens) == 2
    # then a, after b's batch, once b's places are free
    store.end_requests(HOST, b2.tokens, end=b2.end, resume_at=b2.end)
    a3 = reserve(store, b2.end, span_s=1.0, places=2, claim=a2.claim, holder="a")
    assert a3.token is not None


def test_one_start_takes_one_place(store: Store) -> None:
    # at one request a second a batch is one start: the other place stays for other processes
    grant = reserve(store, 4000.0, interval=1.0, span_s=1.0, places=2)
    assert (grant.starts, len(grant.tokens)) == (1, 1)


def test_holds_and_crawl_delay_are_shared(store: Store) -> None:
    store.hold_host(HOST, until=5500.0, reason="rate_limited")
    held = reserve(store, 5000.0)
    assert (held.token, held.held_until, held.reason) == (None, 5500.0, "rate_limited")
    store.set_crawl_delay(HOST, 10.0)
    assert reserve(store, 5500.0).token is not None
    assert reserve(store, 5505.0, holder="other").wait == pytest.approx(5.0)


def test_places_of_a_process_that_died_expire(store: Store) -> None:
    dead = reserve(store, 6000.0, span_s=1.0, places=2, holder="dead")
    assert len(dead.tokens) == 2  # never ended
    assert reserve(store, 6001.0, span_s=1.0, holder="alive").token is None
    late = reserve(store, dead.end + 61.0, span_s=1.0, holder="late")  # lease_s = 60 after the batch
    assert late.token is not None
