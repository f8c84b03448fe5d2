"""Politeness shared across processes (service/store/budget.py) on both databases, on a fake clock."""

from __future__ import annotations

import pytest

from service.store import budget
from service.store.repo import Store

HOST = "www.jsw.com.cn"


def reserve(store: Store, now: float, *, interval: float = 0.2, concurrency: int = 2) -> budget.Grant:
    return store._write(lambda c: budget.reserve(c, HOST, clock=lambda: now, interval=interval,
                        concurrency=concurrency, holder="test", lease_s=60), what="reserve")  # fmt: skip


def test_starts_are_spaced_capped_in_flight_and_within_the_window(store: Store) -> None:
    first = reserve(store, 1000.0)
    assert first.token is not None
    assert reserve(store, 1000.1).wait == pytest.approx(0.1)  # spacing
    second = reserve(store, 1000.2)
    assert second.token is not None
    assert reserve(store, 1000.4).token is None  # two in flight already
    store.release_request(first.token)
    store.release_request(second.token)
    starts = [1000.4, 1000.6, 1000.8]
    for t in starts:
        grant = reserve(store, t)
        assert grant.token is not None
        store.release_request(grant.token)
    # five starts since 1000.0: the sixth waits until the first leaves the window
    late = reserve(store, 1001.0)
    assert late.token is None and late.wait == pytest.approx(budget.WINDOW_S - 1.0)


def test_holds_and_crawl_delay_are_shared(store: Store) -> None:
    store.hold_host(HOST, until=2000.0, reason="rate_limited")
    held = reserve(store, 1500.0)
    assert (held.token, held.held_until, held.reason) == (None, 2000.0, "rate_limited")
    store.set_crawl_delay(HOST, 10.0)
    assert reserve(store, 2000.0).token is not None
    assert reserve(store, 2005.0).wait == pytest.approx(5.0)


def test_a_request_whose_process_died_expires(store: Store) -> None:
    for t in (3000.0, 3000.2):
        assert reserve(store, t).token is not None  # never released
    assert reserve(store, 3000.4).token is None
    assert reserve(store, 3061.0).token is not None  # lease_s = 60
