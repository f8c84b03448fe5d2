"""robots.txt per origin, cached with a TTL, with the failure rules of RFC 9309.

Part of the fetch stage: the ``Fetcher`` asks ``RobotsCache.rules(url)`` before every request it
sends (each redirect hop too). The cache does not talk to the network itself; it is handed a
``RobotsLoader`` (the Fetcher's own polite, archived GET) so robots.txt obeys the same host limits.

RFC 9309 in short: 2xx → parse; 4xx → everything allowed; 5xx, 429 or unreachable → assume
complete disallow, i.e. hold off the host, and try again after ``unreachable_hold_s``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

from service.errors import PermanentFetchError, TransientFetchError

#: The loader returns (status, body) of ``/robots.txt`` or raises a ``FetchError``.
RobotsLoader = Callable[[str], Awaitable[tuple[int, bytes]]]

#: Failures that mean "robots.txt could not be reached" (RFC 9309 "unreachable").
_UNREACHABLE = frozenset({"timeout", "connect_error", "reset", "truncated"})
#: RFC 9309 asks crawlers to parse at least 500 KiB.
ROBOTS_MAX_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What robots.txt says for one URL: may we fetch it, and how far apart requests must be."""

    allowed: bool
    crawl_delay: float | None = None


@dataclass(slots=True)
class _Entry:
    parser: Protego | None  # None: no usable robots.txt, everything allowed
    expires: float  # monotonic time
    unavailable: bool = False


def robots_url(url: str) -> str:
    """``/robots.txt`` of ``url``'s origin (scheme, host and port)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


class RobotsCache:
    """robots.txt per origin, fetched once per ``ttl_s`` even when many requests ask at once."""

    def __init__(
        self,
        loader: RobotsLoader,
        *,
        user_agent: str,
        ttl_s: float,
        unreachable_hold_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._user_agent = user_agent
        self._ttl = ttl_s
        self._hold = unreachable_hold_s
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules(self, url: str) -> RobotsRules:
        """The rules for ``url``; raises ``TransientFetchError("robots_unavailable")`` while the
        origin's robots.txt could not be read, with ``retry_at`` when it will be tried again."""
        entry = await self._entry(robots_url(url))
        if entry.unavailable:
            left = max(0.0, entry.expires - self._clock())
            retry_at = datetime.now(UTC) + timedelta(seconds=left)
            raise TransientFetchError(url, "robots_unavailable", retry_at=retry_at)
        if entry.parser is None:
            return RobotsRules(allowed=True)
        allowed = bool(entry.parser.can_fetch(url, self._user_agent))
        delay = entry.parser.crawl_delay(self._user_agent)
        rate = entry.parser.request_rate(self._user_agent)
        if rate is not None and rate.requests:
            delay = max(delay or 0.0, rate.seconds / rate.requests)
        return RobotsRules(allowed=allowed, crawl_delay=float(delay) if delay else None)

    async def _entry(self, key: str) -> _Entry:
        entry = self._entries.get(key)
        if entry is not None and entry.expires > self._clock():
            return entry
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            entry = self._entries.get(key)
            if entry is None or entry.expires <= self._clock():
                entry = await self._load(key)
                self._entries[key] = entry
            return entry

    async def _load(self, key: str) -> _Entry:
        now = self._clock()
        try:
            status, body = await self._loader(key)
        except TransientFetchError as exc:
            if exc.reason not in _UNREACHABLE:
                raise  # a hold on the host or a full disk says nothing about robots.txt: not cached
            return _Entry(None, now + self._hold, unavailable=True)
        except PermanentFetchError:
            # Refused redirect, too many hops, oversized: RFC 9309 calls these "unavailable" (4xx).
            return _Entry(None, now + self._ttl)
        if 200 <= status < 300:
            text = body.decode("utf-8", errors="replace")
            return _Entry(Protego.parse(text), now + self._ttl)
        if status == 429 or status >= 500:
            return _Entry(None, now + self._hold, unavailable=True)
        return _Entry(None, now + self._ttl)
