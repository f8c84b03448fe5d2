"""robots.txt through the Fetcher: RFC 9309 statuses, caching, TTL, Crawl-delay, switching it off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from service.errors import PermanentFetchError, TransientFetchError
from service.fetch import Fetcher
from service.fetch.robots import RobotsCache, robots_url
from tests.support.faultserver import fast_settings

SITE = "https://www.jsw.com.cn"
ROBOTS = SITE + "/robots.txt"
OK = httpx.Response(200, content=b"<html></html>", headers={"Content-Type": "text/html"})


def robots_router(**robots: Any) -> respx.Router:
    router = respx.Router(assert_all_called=False)
    router.get(ROBOTS).respond(**robots)
    router.route(host="www.jsw.com.cn", path__startswith="/p").mock(return_value=OK)
    return router


async def fetch_all(router: respx.Router, paths: list[str], **settings: Any) -> list[Any]:
    """Fetch each path in turn; the result or the exception, per path."""
    out: list[Any] = []
    async with Fetcher(fast_settings(**settings), transport=httpx.MockTransport(router.async_handler)) as f:
        for path in paths:
            try:
                out.append(await f.fetch(SITE + path))
            except (PermanentFetchError, TransientFetchError) as exc:
                out.append(exc)
    return out


def robots_hits(router: respx.Router) -> int:
    return sum(1 for c in router.calls if c.request.url.path == "/robots.txt")


def test_disallowed_path_is_refused_without_a_request() -> None:
    router = robots_router(status_code=200, text="User-agent: *\nDisallow: /p/private\n")
    ok, refused = asyncio.run(fetch_all(router, ["/p/public", "/p/private/1"]))
    assert ok.status == 200
    assert isinstance(refused, PermanentFetchError) and refused.reason == "robots_disallowed"
    assert [c.request.url.path for c in router.calls] == ["/robots.txt", "/p/public"]


def test_rules_for_our_agent_win_over_the_wildcard() -> None:
    text = "User-agent: jinshan-archiver\nDisallow: /p/ours\n\nUser-agent: *\nDisallow: /\n"
    router = robots_router(status_code=200, text=text)
    ok, refused = asyncio.run(fetch_all(router, ["/p/1", "/p/ours"]))
    assert ok.status == 200 and refused.reason == "robots_disallowed"


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_robots_4xx_allows_everything(status: int) -> None:
    router = robots_router(status_code=status)
    (ok,) = asyncio.run(fetch_all(router, ["/p/1"]))
    assert ok.status == 200


@pytest.mark.parametrize("status", [500, 503, 429])
def test_robots_5xx_holds_the_host(status: int) -> None:
    router = robots_router(status_code=status)
    first, second = asyncio.run(fetch_all(router, ["/p/1", "/p/2"], robots_unreachable_hold_s=600))
    for err in (first, second):
        assert isinstance(err, TransientFetchError) and err.reason == "robots_unavailable"
        assert err.retry_at is not None
        assert 590 < (err.retry_at - datetime.now(UTC)).total_seconds() <= 600
    assert robots_hits(router) == 1
    assert not any(c.request.url.path.startswith("/p") for c in router.calls)


def test_robots_unreachable_holds_the_host() -> None:
    router = respx.Router(assert_all_called=False)
    router.get(ROBOTS).mock(side_effect=httpx.ConnectError("refused"))
    (err,) = asyncio.run(fetch_all(router, ["/p/1"]))
    assert isinstance(err, TransientFetchError) and err.reason == "robots_unavailable"


def test_robots_is_fetched_once_per_ttl_even_under_concurrency() -> None:
    router = robots_router(status_code=200, text="User-agent: *\nAllow: /\n")

    async def burst() -> None:
        async with Fetcher(fast_settings(), transport=httpx.MockTransport(router.async_handler)) as f:
            await asyncio.gather(*(f.fetch(f"{SITE}/p{i}") for i in range(20)))

    asyncio.run(burst())
    assert robots_hits(router) == 1


def test_robots_is_fetched_again_after_the_ttl() -> None:
    router = robots_router(status_code=200, text="User-agent: *\nAllow: /\n")
    asyncio.run(fetch_all(router, ["/p/1", "/p/2", "/p/3"], robots_ttl_s=0))
    assert robots_hits(router) == 3


def test_crawl_delay_spaces_requests() -> None:
    router = robots_router(status_code=200, text="User-agent: *\nCrawl-delay: 0.2\n")

    async def timed() -> float:
        async with Fetcher(fast_settings(), transport=httpx.MockTransport(router.async_handler)) as f:
            await f.fetch(SITE + "/p/0")
            start = asyncio.get_running_loop().time()
            await asyncio.gather(f.fetch(SITE + "/p/1"), f.fetch(SITE + "/p/2"))
            return asyncio.get_running_loop().time() - start

    assert asyncio.run(timed()) >= 0.35


def test_obey_robots_false_never_asks() -> None:
    router = robots_router(status_code=200, text="User-agent: *\nDisallow: /\n")
    (ok,) = asyncio.run(fetch_all(router, ["/p/1"], obey_robots=False))
    assert ok.status == 200 and robots_hits(router) == 0


def test_robots_redirect_to_a_foreign_host_counts_as_absent() -> None:
    router = robots_router(status_code=301, headers={"Location": "https://evil.example.org/robots.txt"})
    (ok,) = asyncio.run(fetch_all(router, ["/p/1"]))
    assert ok.status == 200


def test_cache_does_not_reload_while_fresh() -> None:
    loads: list[str] = []

    async def loader(url: str) -> tuple[int, bytes]:
        loads.append(url)
        return 200, b"User-agent: *\nDisallow: /x\nCrawl-delay: 3\n"

    clock = [0.0]
    cache = RobotsCache(
        loader, user_agent="jinshan-archiver/0.1", ttl_s=10, unreachable_hold_s=5, clock=lambda: clock[0]
    )

    async def check() -> list[Any]:
        a = await cache.rules("http://h/x/1")
        clock[0] = 5
        b = await cache.rules("http://h/y")
        clock[0] = 11
        c = await cache.rules("http://h/y")
        return [a, b, c]

    a, b, c = asyncio.run(check())
    assert (a.allowed, b.allowed, c.allowed) == (False, True, True)
    assert a.crawl_delay == 3
    assert loads == ["http://h/robots.txt", "http://h/robots.txt"]


def test_robots_url_keeps_scheme_host_and_port() -> None:
    assert robots_url("http://127.0.0.1:8080/a/b?c=1#d") == "http://127.0.0.1:8080/robots.txt"


def test_a_hold_on_the_host_is_not_cached_as_robots_unavailable() -> None:
    calls: list[int] = []

    async def loader(url: str) -> tuple[int, bytes]:
        calls.append(1)
        if len(calls) == 1:
            raise TransientFetchError(url, "rate_limited", "host held off")
        return 200, b"User-agent: *\nAllow: /\n"

    cache = RobotsCache(loader, user_agent="jinshan-archiver/0.1", ttl_s=100, unreachable_hold_s=1000)

    async def twice() -> bool:
        with pytest.raises(TransientFetchError) as err:
            await cache.rules("http://h/a")
        assert err.value.reason == "rate_limited"
        return (await cache.rules("http://h/a")).allowed

    assert asyncio.run(twice()) is True
    assert len(calls) == 2
