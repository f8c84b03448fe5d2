"""Politeness per host: request rate, requests in flight, hold-offs, backoff and Retry-After.

Part of the fetch stage (docs/architecture.md): every request the ``Fetcher`` sends passes through
``HostGate.slot`` first, robots.txt requests included, so the site sees at most
``requests_per_second`` starts and ``concurrency`` open requests per host whatever the crawl asks.
All coordination is asyncio (no threads); the clock is injectable so tests need not sleep.
With a ``SharedBudget`` (the store's, see service/store/budget.py) the rate, the requests in flight,
the hold-offs and Crawl-delay are shared with every process on the same database: starts are
reserved there in batches of up to ``BATCH_S`` seconds' worth (in a worker thread, so the event
loop never waits on the database), handed out here at their times, and what a batch did not use is
given back when it ends. A hold placed by another process is seen at the next batch.

The retry arithmetic (``backoff_delay``, ``parse_retry_after``) is plain functions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit

from service.errors import TransientFetchError

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443}
_RNG = random.Random()


def host_key(url: str) -> str:
    """The politeness key of ``url``: host name, plus the port when it is not the scheme's default.

    A replica on 127.0.0.1 is one server per port, so ports are kept apart; http and https on
    the default ports are the same machine and share one budget.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme):
        return host
    return f"{host}:{port}"


def backoff_delay(attempt: int, *, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): exponential with "equal jitter".

    Half the exponential step is kept so retries never bunch at zero; the other half is random so
    many workers that failed together do not come back together.
    """
    step = min(cap, base * 2.0**attempt)
    return step / 2 + (rng or _RNG).uniform(0, step / 2)


def parse_retry_after(value: str | None, *, now: datetime) -> datetime | None:
    """The moment a ``Retry-After`` header names, as an aware UTC datetime; None when absent or bad.

    Both forms of RFC 9110 are accepted: delay-seconds and an HTTP-date. A date in the past means
    "now" rather than being ignored, because the server did ask us to wait.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


class Reservation(Protocol):
    """A shared budget's answer: when ``token`` is set, a batch of ``starts`` starts from ``at``
    (epoch seconds), ``spacing`` apart, with ``tokens`` for its places in flight; else wait ``wait``
    s and ask again with ``claim``; ``held_until`` (epoch seconds) and ``reason`` when the host is
    held off."""

    @property
    def token(self) -> int | None: ...
    @property
    def wait(self) -> float: ...
    @property
    def held_until(self) -> float | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def tokens(self) -> tuple[int, ...]: ...
    @property
    def starts(self) -> int: ...
    @property
    def spacing(self) -> float: ...
    @property
    def claim(self) -> int | None: ...


class SharedBudget(Protocol):
    """Per-host politeness kept where every process sees it (times in epoch seconds)."""

    def reserve(self, host: str, *, span_s: float, places: int, claim: int | None) -> Reservation: ...
    def finish(self, host: str, tokens: tuple[int, ...], *, end: float, resume_at: float) -> None: ...
    def hold(self, host: str, until: float, reason: str) -> None: ...
    def set_crawl_delay(self, host: str, delay: float) -> None: ...


#: a shared start older than this when this process gets to send it is not used
STALE_GRANT_S = 0.05
#: …except after this many batches in a row that went by unused (a process too busy to ever be on
#: time still gets through)
MAX_LATE_GRANTS = 10
#: a batch of shared starts covers this many seconds (at least one start): one transaction per
#: batch instead of one per request, and another process waits at most this long for its turn
BATCH_S = 1.0


@dataclass(slots=True, eq=False)
class _Batch:
    """Starts and places in flight reserved in the shared budget, handed out by this process."""

    tokens: tuple[int, ...]
    at: float
    spacing: float
    starts: int
    used: int = 0
    in_flight: int = 0
    last_sent: float | None = None
    over: bool = False

    @property
    def end(self) -> float:
        return self.at + self.starts * self.spacing

    @property
    def resume_at(self) -> float:
        """The host's earliest next start as far as this batch is concerned."""
        return self.at if self.last_sent is None else self.last_sent + self.spacing


@dataclass(slots=True)
class _Host:
    """Mutable politeness state of one host."""

    in_flight: asyncio.Semaphore
    interval: float
    next_start: float = 0.0
    hold_until: float = 0.0
    hold_reason: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: shared budget: the current batch, the claim left while waiting, batches gone by unused
    batch: _Batch | None = None
    claim: int | None = None
    late: int = 0
    freed: asyncio.Event = field(default_factory=asyncio.Event)


class HostGate:
    """Per-host rate limit, in-flight cap and hold-off, shared by every fetch of one ``Fetcher``.

    ``slot(url)`` waits for the host's turn. A hold (set after 429/503 with Retry-After, a block
    page, or robots.txt being unreachable) longer than ``max_wait`` is not waited out: the request
    raises ``TransientFetchError`` with ``retry_at`` at the end of the hold so the frontier keeps the
    URL and the worker is free for other hosts.
    """

    def __init__(
        self,
        *,
        requests_per_second: float,
        concurrency: int,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        shared: SharedBudget | None = None,
    ) -> None:
        self._shared = shared
        #: shared batches whose end failed (the database was away): ended later
        self._unreleased: list[tuple[str, _Batch]] = []
        #: the tasks that end each batch when its time is over
        self._expiries: set[asyncio.Task[None]] = set()
        self._interval = 1.0 / requests_per_second
        self._concurrency = concurrency
        self._max_wait = max_wait
        self._clock = clock
        self._wall = wall
        self._hosts: dict[str, _Host] = {}

    def _host(self, key: str) -> _Host:
        state = self._hosts.get(key)
        if state is None:
            state = _Host(in_flight=asyncio.Semaphore(self._concurrency), interval=self._interval)
            self._hosts[key] = state
        return state

    def set_crawl_delay(self, url: str, delay: float | None) -> None:
        """Space requests to ``url``'s host at least ``delay`` seconds apart (robots Crawl-delay)."""
        state = self._host(host_key(url))
        state.interval = max(self._interval, delay or 0.0)
        if self._shared is not None:
            self._shared.set_crawl_delay(host_key(url), delay or 0.0)

    def interval(self, url: str) -> float:
        """Current minimum spacing of request starts for ``url``'s host, in seconds."""
        return self._host(host_key(url)).interval

    def hold(self, url: str, until: datetime, reason: str) -> None:
        """Send nothing to ``url``'s host before ``until`` (a later hold wins over an earlier one)."""
        state = self._host(host_key(url))
        delay = (until - self._wall()).total_seconds()
        target = self._clock() + max(0.0, delay)
        if target > state.hold_until:
            state.hold_until, state.hold_reason = target, reason
        if self._shared is not None:
            self._shared.hold(host_key(url), until.timestamp(), reason)

    def holds(self) -> list[tuple[str, datetime, str]]:
        """Every host held off now, whoever placed the hold this process learnt of: (host key, end
        as wall time, reason), soonest end first."""
        now = self._clock()
        held = [(key, self._wall() + timedelta(seconds=s.hold_until - now), s.hold_reason)
                for key, s in self._hosts.items() if s.hold_until > now]  # fmt: skip
        return sorted(held, key=lambda h: h[1])

    def held_until(self, url: str) -> datetime | None:
        """End of the current hold on ``url``'s host as wall time, or None when it is not held."""
        state = self._host(host_key(url))
        left = state.hold_until - self._clock()
        return self._wall() + timedelta(seconds=left) if left > 0 else None

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        """Wait for a free in-flight place and the next start time of ``url``'s host, then yield.

        Raises ``TransientFetchError`` (reason of the hold, ``retry_at`` its end) when the host is
        held for longer than ``max_wait``.
        """
        state = self._host(host_key(url))
        await self._wait_hold(url, state)
        async with state.in_flight:
            await self._wait_hold(url, state)
            if self._shared is not None:
                batch = await self._start_shared(url, state)
                try:
                    yield
                finally:
                    batch.in_flight -= 1
                    state.freed.set()
                    if batch.in_flight == 0 and (batch is not state.batch or self._spent(batch, state)):
                        await self._end_batch(host_key(url), state, batch)
                return
            async with state.lock:
                now = self._clock()
                start = max(now, state.next_start)
                state.next_start = start + state.interval
            if start > now:
                await asyncio.sleep(start - now)
            yield

    # --- the shared budget: batches of starts ------------------------------------------------------

    async def _start_shared(self, url: str, state: _Host) -> _Batch:
        """Wait for this request's start in a shared batch (reserving one when needed), then count
        it in flight; the batch. Raises ``TransientFetchError`` when the host is held off for
        longer than ``max_wait``."""
        while True:
            await self._wait_hold(url, state)
            batch = state.batch
            if batch is None:
                async with state.lock:
                    if state.batch is None:
                        await self._reserve_batch(url, state)
                continue
            if batch.in_flight >= len(batch.tokens) or self._spent(batch, state):
                if batch.in_flight == 0:
                    await self._end_batch(host_key(url), state, batch)
                else:
                    state.freed.clear()
                    await state.freed.wait()  # a request of this batch ends
                continue
            index = self._next_index(batch, state)
            batch.used = index + 1
            at = batch.at + index * batch.spacing
            batch.in_flight += 1
            now = self._wall().timestamp()
            if at > now:
                try:
                    await asyncio.sleep(at - now)
                except BaseException:  # cancelled before it started: not in flight after all
                    batch.in_flight -= 1
                    state.freed.set()
                    raise
            batch.last_sent = max(at, self._wall().timestamp())
            state.late = 0
            return batch

    def _next_index(self, batch: _Batch, state: _Host) -> int:
        """The index of the batch's next start this process may still send: not yet gone by (unless
        too many batches in a row went by unused), and this host's own interval (robots.txt's
        Crawl-delay included) after the last one sent; ``batch.starts`` when none is left."""
        now = self._wall().timestamp()
        earliest = now - STALE_GRANT_S if state.late < MAX_LATE_GRANTS else -math.inf
        if batch.last_sent is not None:
            earliest = max(earliest, batch.last_sent + state.interval)
        behind = math.ceil((earliest - batch.at) / batch.spacing - 1e-6) if earliest > batch.at else 0
        return min(batch.starts, max(batch.used, behind))

    def _spent(self, batch: _Batch, state: _Host) -> bool:
        """No start of ``batch`` is left to send."""
        return batch.over or self._next_index(batch, state) >= batch.starts

    async def _reserve_batch(self, url: str, state: _Host) -> None:
        """Ask the shared budget for a batch until it grants one (then ``state.batch``)."""
        assert self._shared is not None
        if self._unreleased:
            await self._release_pending()
        grant = await asyncio.to_thread(
            self._shared.reserve, host_key(url), span_s=BATCH_S, places=self._concurrency, claim=state.claim
        )
        state.claim = grant.claim
        if grant.token is not None:
            state.batch = _Batch(tokens=grant.tokens, at=grant.at, spacing=grant.spacing, starts=grant.starts)
            task = asyncio.get_running_loop().create_task(self._expire(host_key(url), state, state.batch))
            self._expiries.add(task)
            task.add_done_callback(self._expiries.discard)
            return
        if grant.held_until is not None and grant.wait > self._max_wait:
            retry_at = datetime.fromtimestamp(grant.held_until, UTC)
            # another process placed it: known here too, for the summary and to stop asking
            target = self._clock() + grant.wait
            if target > state.hold_until:
                state.hold_until, state.hold_reason = target, grant.reason or "held"
            raise TransientFetchError(
                url, grant.reason or "held", "host held off", retry_at=retry_at, sent=False
            )
        await asyncio.sleep(max(grant.wait, 0.005))

    async def _expire(self, key: str, state: _Host, batch: _Batch) -> None:
        """End ``batch`` once its time is over and its requests ended, if no request did before
        (a process that goes idle must not keep the host's places)."""
        await asyncio.sleep(max(0.0, batch.end - self._wall().timestamp()))
        while batch.in_flight and not batch.over:
            state.freed.clear()
            await state.freed.wait()
        await self._end_batch(key, state, batch)

    async def _end_batch(self, key: str, state: _Host, batch: _Batch) -> None:
        """Free ``batch``'s places and give back the starts it did not use (once)."""
        if batch.over:
            return
        batch.over = True
        if state.batch is batch:
            state.batch = None
        if batch.last_sent is None:
            state.late += 1
        state.freed.set()
        self._unreleased.append((key, batch))
        await self._release_pending()

    async def _release_pending(self) -> None:
        """End the shared batches that are over. One that cannot be ended now (the database is away)
        is kept and ended at the next reservation: left alone its places would count as in flight
        until they expired, and a few of those fill the host's cap for a minute after an outage."""
        assert self._shared is not None
        # taken whole before any await: batches ending at once each end their own
        pending, self._unreleased = self._unreleased, []
        for i, (host, batch) in enumerate(pending):
            try:
                await asyncio.to_thread(
                    self._shared.finish, host, batch.tokens, end=batch.end, resume_at=batch.resume_at
                )
            except Exception as exc:  # the budget's store is away; its error type is not ours to know
                self._unreleased.extend(pending[i:])
                log.warning("could not end a shared batch of starts yet (%s); retrying at the next one", exc)
                return

    async def aclose(self) -> None:
        """End every shared batch of this gate (the starts it did not use go back to the host)."""
        if self._shared is None:
            return
        for task in list(self._expiries):
            task.cancel()
        for key, state in list(self._hosts.items()):
            if state.batch is not None:
                await self._end_batch(key, state, state.batch)
            if state.claim is not None:  # a claim left while waiting: nobody waits behind it
                self._unreleased.append((key, _Batch(tokens=(state.claim,), at=0.0, spacing=0.0, starts=0)))
                state.claim = None
        if self._unreleased:
            await self._release_pending()

    async def _wait_hold(self, url: str, state: _Host) -> None:
        left = state.hold_until - self._clock()
        if left <= 0:
            return
        if left > self._max_wait:
            retry_at = self._wall() + timedelta(seconds=left)
            raise TransientFetchError(url, state.hold_reason, "host held off", retry_at=retry_at, sent=False)
        await asyncio.sleep(left)
