"""Politeness per host: request rate, requests in flight, hold-offs, backoff and Retry-After.

Part of the fetch stage (docs/architecture.md): every request the ``Fetcher`` sends passes through
``HostGate.slot`` first, robots.txt requests included, so the site sees at most
``requests_per_second`` starts and ``concurrency`` open requests per host whatever the crawl asks.
All coordination is asyncio (no threads); the clock is injectable so tests need not sleep.
With a ``SharedBudget`` (the store's, see service/store/budget.py) the rate, the requests in flight,
the hold-offs and Crawl-delay are shared with every process on the same database: each start is
reserved there first (in a worker thread, so the event loop never waits on the database).

The retry arithmetic (``backoff_delay``, ``parse_retry_after``) is plain functions.
"""

from __future__ import annotations

import asyncio
import logging
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
    """A shared budget's answer: ``token`` when the request may start now, else wait ``wait`` s;
    ``held_until`` (epoch seconds) and ``reason`` when the host is held off."""

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


class SharedBudget(Protocol):
    """Per-host politeness kept where every process sees it (times in epoch seconds)."""

    def reserve(self, host: str) -> Reservation: ...
    def release(self, token: int) -> None: ...
    def hold(self, host: str, until: float, reason: str) -> None: ...
    def set_crawl_delay(self, host: str, delay: float) -> None: ...


#: a shared start older than this when this process gets to send it is not used
STALE_GRANT_S = 0.05
#: …except after this many in a row (a process too busy to ever be on time still gets through)
MAX_LATE_GRANTS = 10


@dataclass(slots=True)
class _Host:
    """Mutable politeness state of one host."""

    in_flight: asyncio.Semaphore
    interval: float
    next_start: float = 0.0
    hold_until: float = 0.0
    hold_reason: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


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
        #: slots of the shared budget whose release failed (the database was away): released later
        self._unreleased: list[int] = []
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
                token = await self._reserve_shared(url)
                try:
                    yield
                finally:
                    self._unreleased.append(token)
                    await self._release_pending()
                return
            async with state.lock:
                now = self._clock()
                start = max(now, state.next_start)
                state.next_start = start + state.interval
            if start > now:
                await asyncio.sleep(start - now)
            yield

    async def _release_pending(self) -> None:
        """End the shared slots of finished requests. One that cannot be ended now (the database is
        away) is kept and ended at the next request: left alone it would count as in flight until it
        expired, and a few of those fill the host's cap for a minute after an outage."""
        assert self._shared is not None
        # taken whole before any await: requests ending at once each end their own slots
        pending, self._unreleased = self._unreleased, []
        for i, token in enumerate(pending):
            try:
                await asyncio.to_thread(self._shared.release, token)
            except Exception as exc:  # the budget's store is away; its error type is not ours to know
                self._unreleased.extend(pending[i:])
                log.warning(
                    "could not end a request's shared slot yet (%s); retrying at the next request", exc
                )
                return

    async def _reserve_shared(self, url: str) -> int:
        """Ask the shared budget until it lets the request start; its token. Raises
        ``TransientFetchError`` when the host is held off for longer than ``max_wait``."""
        assert self._shared is not None
        late = 0
        if self._unreleased:
            await self._release_pending()
        while True:
            grant = await asyncio.to_thread(self._shared.reserve, host_key(url))
            if grant.token is not None:
                if self._wall().timestamp() - grant.at <= STALE_GRANT_S or late >= MAX_LATE_GRANTS:
                    return grant.token
                # a start granted a while ago, sent now, would bunch with the next one: ask again
                late += 1
                await asyncio.to_thread(self._shared.release, grant.token)
                continue
            if grant.held_until is not None and grant.wait > self._max_wait:
                retry_at = datetime.fromtimestamp(grant.held_until, UTC)
                raise TransientFetchError(
                    url, grant.reason or "held", "host held off", retry_at=retry_at, sent=False
                )
            await asyncio.sleep(max(grant.wait, 0.005))

    async def _wait_hold(self, url: str, state: _Host) -> None:
        left = state.hold_until - self._clock()
        if left <= 0:
            return
        if left > self._max_wait:
            retry_at = self._wall() + timedelta(seconds=left)
            raise TransientFetchError(url, state.hold_reason, "host held off", retry_at=retry_at, sent=False)
        await asyncio.sleep(left)
