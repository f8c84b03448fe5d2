"""Pure politeness arithmetic and the host gate."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from service.errors import TransientFetchError
from service.fetch.politeness import HostGate, backoff_delay, host_key, parse_retry_after

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_is_exponential_with_bounded_jitter(attempt: int) -> None:
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, base=1.0, cap=30.0, rng=rng) for _ in range(200)]
    step = min(30.0, 2.0**attempt)
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 100  # jittered, not constant


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("120", now=NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Thu, 01 Jan 2026 13:00:00 GMT", now=NOW) == NOW + timedelta(hours=1)
    assert parse_retry_after("Wed, 31 Dec 2025 13:00:00 GMT", now=NOW) == NOW  # past: now
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None
    assert parse_retry_after("", now=NOW) is None


def test_host_key_keeps_non_default_ports_apart() -> None:
    assert host_key("https://WWW.jsw.com.cn/x") == "www.jsw.com.cn"
    assert host_key("http://www.jsw.com.cn:80/x") == host_key("https://www.jsw.com.cn:443/y")
    assert host_key("http://127.0.0.1:8001/") != host_key("http://127.0.0.1:8002/")


def test_short_hold_is_waited_long_hold_is_raised() -> None:
    async def scenario() -> tuple[float, TransientFetchError]:
        gate = HostGate(requests_per_second=1000, concurrency=2, max_wait=0.5)
        url = "http://h/x"
        gate.hold(url, datetime.now(UTC) + timedelta(seconds=0.2), "rate_limited")
        loop = asyncio.get_running_loop()
        start = loop.time()
        async with gate.slot(url):
            waited = loop.time() - start
        gate.hold(url, datetime.now(UTC) + timedelta(seconds=60), "rate_limited")
        with pytest.raises(TransientFetchError) as err:
            async with gate.slot(url):
                pass
        return waited, err.value

    waited, err = asyncio.run(scenario())
    assert waited >= 0.15
    assert err.reason == "rate_limited" and err.retry_at is not None
    assert 55 < (err.retry_at - datetime.now(UTC)).total_seconds() <= 60


def test_crawl_delay_never_speeds_up_the_configured_rate() -> None:
    async def scenario() -> tuple[float, float]:
        gate = HostGate(requests_per_second=0.5, concurrency=2, max_wait=1)
        gate.set_crawl_delay("http://h/", 0.1)
        slow = gate.interval("http://h/")
        gate.set_crawl_delay("http://h/", 10)
        return slow, gate.interval("http://h/")

    assert asyncio.run(scenario()) == (2.0, 10.0)


class _Budget:
    """A shared budget in memory: batches of ``starts`` starts from now, ``spacing`` apart, one
    place each; while ``down``, ending a batch fails (the database is away)."""

    def __init__(self, *, starts: int, spacing: float) -> None:
        self.starts, self.spacing = starts, spacing
        self.in_flight: set[int] = set()
        self.reserved = 0
        self.finished: list[tuple[tuple[int, ...], float, float]] = []
        self.down = False

    def reserve(self, host: str, *, span_s: float, places: int, claim: int | None) -> object:
        self.reserved += 1
        token = self.reserved
        self.in_flight.add(token)
        at = datetime.now(UTC).timestamp()
        return SimpleNamespace(token=token, wait=0.0, held_until=None, reason="", at=at, tokens=(token,),
                               starts=self.starts, spacing=self.spacing, claim=None)  # fmt: skip

    def finish(self, host: str, tokens: tuple[int, ...], *, end: float, resume_at: float) -> None:
        if self.down:
            raise ConnectionError("database unreachable")
        self.in_flight.difference_update(tokens)
        self.finished.append((tokens, end, resume_at))

    def hold(self, host: str, until: float, reason: str) -> None: ...
    def set_crawl_delay(self, host: str, delay: float) -> None: ...


def test_shared_starts_are_reserved_in_batches_and_the_unused_ones_given_back() -> None:
    async def go() -> _Budget:
        budget = _Budget(starts=100_000, spacing=0.0001)  # 10 s worth of starts
        gate = HostGate(requests_per_second=10_000, concurrency=2, max_wait=5, shared=budget)  # type: ignore[arg-type]
        for i in range(50):
            async with gate.slot(f"https://www.jsw.com.cn/{i}"):
                pass
        assert budget.finished == []  # the batch lasts
        await gate.aclose()
        return budget

    budget = asyncio.run(go())
    assert budget.reserved == 1  # one reservation for 50 requests
    [(tokens, end, resume_at)] = budget.finished
    assert tokens == (1,) and budget.in_flight == set()
    assert resume_at < end - 9  # the starts of the ~10 s not used go back


def test_a_shared_batch_that_could_not_be_ended_is_ended_at_the_next_reservation() -> None:
    async def go() -> None:
        budget = _Budget(starts=1, spacing=0.001)  # one start per batch, as at the default rate
        gate = HostGate(requests_per_second=1000, concurrency=2, max_wait=5, shared=budget)  # type: ignore[arg-type]
        budget.down = True
        async with gate.slot("https://www.jsw.com.cn/a"):
            pass  # the request ends while the database is away: its place stays taken
        assert budget.in_flight == {1}
        budget.down = False
        async with gate.slot("https://www.jsw.com.cn/b"):
            assert budget.in_flight == {2}  # the leaked place was ended before this one was taken
        assert budget.in_flight == set()
        await gate.aclose()

    asyncio.run(go())
