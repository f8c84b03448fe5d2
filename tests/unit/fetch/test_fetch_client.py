"""Fetcher behaviour on a mock transport (respx): hosts, redirects, statuses, retries, caps, archive."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from service.errors import PermanentFetchError, TransientFetchError
from service.fetch import Fetcher, Response, WarcArchive, iter_records, read_response
from tests.support.faultserver import fast_settings

SITE = "https://www.jsw.com.cn"
PAGE = SITE + "/2024/0101/1.shtml"
HTML = "<html><body><p>金山网讯 测试</p></body></html>".encode()


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def html(status: int = 200, body: bytes = HTML, **headers: str) -> httpx.Response:
    hdrs = {
        "Content-Type": "text/html; charset=utf-8",
        **{k.replace("_", "-"): v for k, v in headers.items()},
    }
    return httpx.Response(status, content=body, headers=hdrs)


def make_router() -> respx.Router:
    router = respx.Router(assert_all_called=False)
    router.get(SITE + "/robots.txt").respond(404)
    return router


async def fetch_with(
    router: respx.Router, url: str = PAGE, *, archive: WarcArchive | None = None, **kw: Any
) -> Response:
    block_check = kw.pop("block_check", None)
    rng = kw.pop("rng", None)
    fetch_kw = {k: kw.pop(k) for k in ("etag", "last_modified", "previous_digest") if k in kw}
    settings = fast_settings(**kw)
    transport = httpx.MockTransport(router.async_handler)
    async with Fetcher(settings, archive=archive, transport=transport, block_check=block_check, rng=rng) as f:
        return await f.fetch(url, **fetch_kw)


def page_calls(router: respx.Router) -> list[httpx.Request]:
    return [c.request for c in router.calls if c.request.url.path != "/robots.txt"]


# --- the request we send ----------------------------------------------------------------------


def test_a_cookie_the_site_sets_is_sent_back() -> None:
    """The client keeps httpx's cookie jar (it only skips responses that set no cookie)."""
    router = make_router()
    other = SITE + "/2024/0101/2.shtml"
    router.get(PAGE).mock(return_value=html(set_cookie="sid=abc; Path=/"))
    router.get(other).mock(return_value=html())

    async def two() -> None:
        transport = httpx.MockTransport(router.async_handler)
        async with Fetcher(fast_settings(), transport=transport) as f:
            await f.fetch(PAGE)
            await f.fetch(other)
            await f.fetch(other)

    run(two())
    assert [c.headers.get("cookie") for c in page_calls(router)] == [None, "sid=abc", "sid=abc"]


def test_identifies_itself_and_accepts_compression() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html())
    resp = run(fetch_with(router))
    sent = page_calls(router)[0]
    settings = fast_settings()
    assert sent.headers["user-agent"] == settings.fetch.user_agent_string
    assert settings.fetch.contact_url in sent.headers["user-agent"]
    assert "gzip" in sent.headers["accept-encoding"]
    assert resp.status == 200 and resp.body == HTML
    assert resp.fetched_at.tzinfo is not None and resp.fetched_at.utcoffset() == timedelta(0)
    assert resp.content_type == "text/html; charset=utf-8"


def test_gzip_body_is_decoded() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(body=gzip.compress(HTML), Content_Encoding="gzip"))
    assert run(fetch_with(router)).body == HTML


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://bbs.jsw.com.cn/thread-1.html", "refused_host"),
        ("https://evil.example.org/", "refused_host"),
        ("ftp://www.jsw.com.cn/file", "refused_scheme"),
        ("javascript:alert(1)", "refused_scheme"),
    ],
)
def test_refuses_other_hosts_and_schemes_without_a_request(url: str, reason: str) -> None:
    router = make_router()
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, url))
    assert err.value.reason == reason
    assert router.calls.call_count == 0


def test_any_port_of_an_allowed_host_is_fetched() -> None:
    router = respx.Router(assert_all_called=False)
    router.get("http://www.jsw.com.cn:8080/robots.txt").respond(404)
    router.get("http://www.jsw.com.cn:8080/x.shtml").mock(return_value=html())
    assert run(fetch_with(router, "http://www.jsw.com.cn:8080/x.shtml")).status == 200


# --- redirects ----------------------------------------------------------------------------------


def test_redirect_chain_is_followed_and_recorded() -> None:
    router = make_router()
    router.get(SITE + "/old").respond(301, headers={"Location": "/mid"})
    router.get(SITE + "/mid").respond(302, headers={"Location": "https://jsw.com.cn/final"})
    router.get("https://jsw.com.cn/robots.txt").respond(404)
    router.get("https://jsw.com.cn/final").mock(return_value=html())
    resp = run(fetch_with(router, SITE + "/old"))
    assert resp.url == "https://jsw.com.cn/final"
    assert resp.requested_url == SITE + "/old"
    assert resp.redirects == (SITE + "/old", SITE + "/mid")


def test_redirect_to_foreign_host_is_refused_before_it_is_requested() -> None:
    router = make_router()
    router.get(SITE + "/go").respond(302, headers={"Location": "http://evil.example.org/x"})
    evil = router.get("http://evil.example.org/x").mock(return_value=html())
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, SITE + "/go"))
    assert err.value.reason == "refused_host"
    assert "evil.example.org" in err.value.detail
    assert not evil.called


def test_redirect_loop_is_detected() -> None:
    router = make_router()
    router.get(SITE + "/a").respond(302, headers={"Location": "/b"})
    router.get(SITE + "/b").respond(302, headers={"Location": "/a"})
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, SITE + "/a"))
    assert err.value.reason == "redirect_loop"
    assert len(page_calls(router)) == 2


@pytest.mark.parametrize(("hops", "ok"), [(3, True), (4, False)])
def test_redirect_hops_are_capped(hops: int, ok: bool) -> None:
    router = make_router()
    for i in range(hops, 0, -1):
        router.get(f"{SITE}/r{i}").respond(302, headers={"Location": f"/r{i - 1}"})
    router.get(f"{SITE}/r0").mock(return_value=html())
    if ok:
        assert len(run(fetch_with(router, f"{SITE}/r{hops}", max_redirects=3)).redirects) == hops
    else:
        with pytest.raises(PermanentFetchError) as err:
            run(fetch_with(router, f"{SITE}/r{hops}", max_redirects=3))
        assert err.value.reason == "too_many_redirects"


# --- statuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(404, "http_404"), (410, "http_410"), (403, "http_4xx")])
def test_client_errors_are_permanent_and_keep_the_status(status: int, reason: str) -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(status))
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router))
    assert (err.value.reason, err.value.status) == (reason, status)
    assert len(page_calls(router)) == 1


def test_server_errors_are_retried_then_handed_back() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(500))
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router, retries=3))
    assert (err.value.reason, err.value.status, err.value.retry_at) == ("http_5xx", 500, None)
    assert len(page_calls(router)) == 4


def test_a_flaky_server_succeeds_on_retry() -> None:
    router = make_router()
    router.get(PAGE).mock(side_effect=[html(502), httpx.ReadError("reset by peer"), html()])
    assert run(fetch_with(router, retries=2)).status == 200
    assert len(page_calls(router)) == 3


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectTimeout("t"), "timeout"),
        (httpx.ReadTimeout("t"), "timeout"),
        (httpx.ConnectError("refused"), "connect_error"),
        (httpx.ReadError("reset"), "reset"),
        (
            httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
            "truncated",
        ),
    ],
)
def test_network_errors_map_to_transient_reasons(exc: Exception, reason: str) -> None:
    router = make_router()
    router.get(PAGE).mock(side_effect=exc)
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router, retries=1))
    assert err.value.reason == reason
    assert len(page_calls(router)) == 2


def test_backoff_grows_between_retries() -> None:
    router = make_router()
    stamps: list[float] = []

    def failing(request: httpx.Request) -> httpx.Response:
        stamps.append(time.monotonic())
        return html(500)

    router.get(PAGE).mock(side_effect=failing)
    with pytest.raises(TransientFetchError):
        run(fetch_with(router, retries=3, backoff_base_s=0.05, backoff_max_s=5, rng=Highest()))
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # the jitter at its top: wait n is base*2^n (the jitter's range: test_fetch_politeness); a busy
    # machine only makes the gaps longer, so they are asserted from below
    assert len(gaps) == 3
    for n, gap in enumerate(gaps):
        assert gap >= 0.05 * 2**n - 0.005


class Highest(random.Random):
    """A random source whose ``uniform`` always gives the top of the range."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_long_retry_after_in_seconds_is_handed_back_at_once() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(429, Retry_After="120"))
    before = datetime.now(UTC)
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router))
    assert err.value.reason == "rate_limited" and err.value.status == 429
    assert err.value.retry_at is not None
    assert abs((err.value.retry_at - before).total_seconds() - 120) < 5
    assert len(page_calls(router)) == 1


def test_retry_after_as_http_date_on_503() -> None:
    when = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    router = make_router()
    router.get(PAGE).mock(return_value=html(503, Retry_After=format_datetime(when, usegmt=True)))
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router))
    assert (err.value.reason, err.value.status, err.value.retry_at) == ("http_5xx", 503, when)


def test_short_retry_after_is_waited_out() -> None:
    router = make_router()
    router.get(PAGE).mock(side_effect=[html(503, Retry_After="0"), html()])
    assert run(fetch_with(router)).status == 200


def test_rate_limited_host_is_held_for_other_urls() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(429, Retry_After="600"))
    other = router.get(SITE + "/other").mock(return_value=html())

    async def both() -> TransientFetchError:
        settings = fast_settings()
        async with Fetcher(settings, transport=httpx.MockTransport(router.async_handler)) as f:
            with pytest.raises(TransientFetchError):
                await f.fetch(PAGE)
            with pytest.raises(TransientFetchError) as err:
                await f.fetch(SITE + "/other")
            return err.value

    err = run(both())
    assert err.reason == "rate_limited" and err.retry_at is not None
    assert not other.called


# --- bodies ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/pdf", "image/jpeg", "text/plain"])
def test_non_html_is_reported(ctype: str) -> None:
    router = make_router()
    router.get(PAGE).respond(200, content=b"%PDF", headers={"Content-Type": ctype})
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router))
    assert err.value.reason == "not_html" and err.value.detail == ctype


def test_missing_content_type_is_let_through() -> None:
    router = make_router()
    router.get(PAGE).respond(200, content=HTML)
    resp = run(fetch_with(router))
    assert resp.content_type is None and resp.body == HTML


def test_declared_oversize_body_is_refused() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(body=b"x" * 3000))
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, max_bytes=2048))
    assert err.value.reason == "too_large"


def test_streamed_oversize_body_is_cut_off() -> None:
    async def stream() -> Any:
        for _ in range(1000):
            yield b"y" * 1024

    router = make_router()
    router.get(PAGE).respond(200, content=stream(), headers={"Content-Type": "text/html"})
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, max_bytes=10_000))
    assert err.value.reason == "too_large"


def test_gzip_bomb_is_cut_off_by_decoded_size() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)
    assert len(bomb) < 100_000
    router = make_router()
    router.get(PAGE).mock(return_value=html(body=bomb, Content_Encoding="gzip"))
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, max_bytes=1_000_000))
    assert err.value.reason == "too_large"


def test_block_page_answered_with_200_is_a_transient_failure() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(body="<p>访问验证</p>".encode()))

    def check(body: bytes, ctype: str | None) -> str | None:
        return "访问验证" if "访问验证".encode() in body else None

    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router, block_check=check))
    assert (err.value.reason, err.value.detail, err.value.status) == ("blocked", "访问验证", 200)
    assert err.value.retry_at is not None and err.value.retry_at > datetime.now(UTC)


# --- conditional requests -----------------------------------------------------------------------


def test_conditional_request_and_304() -> None:
    router = make_router()
    lm = "Wed, 21 Oct 2025 07:28:00 GMT"
    router.get(PAGE).respond(304, headers={"ETag": '"v1"'})
    resp = run(fetch_with(router, etag='"v1"', last_modified=lm))
    sent = page_calls(router)[0]
    assert sent.headers["if-none-match"] == '"v1"'
    assert sent.headers["if-modified-since"] == lm
    assert resp.not_modified and resp.status == 304 and resp.body == b""


def test_validators_are_reported_and_conditionals_can_be_switched_off() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(ETag='"abc"', Last_Modified="Mon, 01 Jan 2024 00:00:00 GMT"))
    resp = run(fetch_with(router, etag='"old"', conditional_requests=False))
    assert "if-none-match" not in page_calls(router)[0].headers
    assert (resp.etag, resp.last_modified) == ('"abc"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert not resp.not_modified


# --- archive ------------------------------------------------------------------------------------


def test_exchange_is_archived_and_reads_back(tmp_path: Path) -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(body=gzip.compress(HTML), Content_Encoding="gzip"))
    archive = WarcArchive(tmp_path)
    resp = run(fetch_with(router, archive=archive))
    assert resp.warc is not None and not resp.warc.revisit
    back = read_response(tmp_path / resp.warc.filename, resp.warc.offset)
    assert (back.url, back.status, back.body) == (PAGE, 200, HTML)
    assert back.payload_digest == resp.payload_digest
    assert ("Content-Encoding", "gzip") in back.headers


def test_identical_payload_is_written_as_revisit(tmp_path: Path) -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html())
    archive = WarcArchive(tmp_path)
    first = run(fetch_with(router, archive=archive))
    second = run(fetch_with(router, archive=archive, previous_digest=first.payload_digest))
    assert second.warc is not None and second.warc.revisit
    assert second.body == HTML  # the caller still gets the bytes
    back = read_response(tmp_path / second.warc.filename, second.warc.offset)
    assert back.record_type == "revisit" and back.body == b""
    assert back.payload_digest == first.payload_digest


def test_error_responses_are_archived_refusals_are_not(tmp_path: Path) -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(404, body=b"gone"))
    archive = WarcArchive(tmp_path)
    with pytest.raises(PermanentFetchError):
        run(fetch_with(router, archive=archive))
    with pytest.raises(PermanentFetchError):
        run(fetch_with(router, "https://evil.example.org/", archive=archive))
    files = list(tmp_path.glob("*.warc.gz"))
    urls = [r.url for f in files for r in iter_records(f) if r.record_type == "response"]
    assert PAGE in urls and not any("evil" in (u or "") for u in urls)


def test_every_redirect_hop_is_archived(tmp_path: Path) -> None:
    router = make_router()
    router.get(SITE + "/old").respond(301, headers={"Location": PAGE})
    router.get(PAGE).mock(return_value=html())
    archive = WarcArchive(tmp_path)
    run(fetch_with(router, SITE + "/old", archive=archive))
    (file,) = tmp_path.glob("*.warc.gz")
    responses = [str(r.url) for r in iter_records(file) if r.record_type == "response"]
    requests = [str(r.url) for r in iter_records(file) if r.record_type == "request"]
    assert SITE + "/old" in responses and PAGE in responses
    assert sorted(requests) == sorted(responses)


# --- politeness -----------------------------------------------------------------------------------


def _tracking(delay: float) -> tuple[Callable[[httpx.Request], Awaitable[httpx.Response]], list[int]]:
    state = {"now": 0}
    peaks: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        state["now"] += 1
        peaks.append(state["now"])
        await asyncio.sleep(delay)
        state["now"] -= 1
        return html()

    return handler, peaks


def test_requests_in_flight_per_host_are_capped() -> None:
    handler, peaks = _tracking(0.02)
    router = make_router()
    router.route(host="www.jsw.com.cn", path__regex=r"^/p\d+$").mock(side_effect=handler)

    async def many() -> None:
        settings = fast_settings(concurrency=2)
        async with Fetcher(settings, transport=httpx.MockTransport(router.async_handler)) as f:
            await asyncio.gather(*(f.fetch(f"{SITE}/p{i}") for i in range(10)))

    run(many())
    assert max(peaks) == 2


def test_request_rate_per_host_is_limited() -> None:
    router = make_router()
    sent: list[str] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.url.host}{request.url.path}")
        return html()

    router.route(host="www.jsw.com.cn", path__regex=r"^/p\d+$").mock(side_effect=record)
    router.get("https://szb.jsw.com.cn/robots.txt").respond(404)
    router.route(host="szb.jsw.com.cn").mock(side_effect=record)

    async def timed(f: Fetcher, urls: list[str]) -> float:
        start = time.monotonic()
        await asyncio.gather(*(f.fetch(u) for u in urls))
        return time.monotonic() - start

    async def both() -> float:
        settings = fast_settings(requests_per_second=20, concurrency=5)
        async with Fetcher(settings, transport=httpx.MockTransport(router.async_handler)) as f:
            busy = timed(f, [f"{SITE}/p{i}" for i in range(6)])
            other = timed(f, ["https://szb.jsw.com.cn/p0"])
            return (await asyncio.gather(busy, other))[0]

    one_host = run(both())
    # robots.txt and 6 pages = 7 starts at 20/s: at least 6 intervals of 50 ms
    assert one_host >= 0.29
    # the other host runs alongside: its page goes out before the busy host's queue has drained
    busy_last = max(i for i, request in enumerate(sent) if request.startswith("www."))
    assert sent.index("szb.jsw.com.cn/p0") < busy_last


def test_archive_failure_is_reported_not_swallowed(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    router = make_router()
    router.get(PAGE).mock(return_value=html())
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router, archive=WarcArchive(blocker / "warc"), obey_robots=False))
    assert err.value.reason == "archive_failed" and err.value.status == 200


def test_errors_after_a_redirect_name_the_requested_url() -> None:
    router = make_router()
    router.get(SITE + "/moved").respond(301, headers={"Location": "/gone"})
    router.get(SITE + "/gone").mock(return_value=html(410))
    with pytest.raises(PermanentFetchError) as err:
        run(fetch_with(router, SITE + "/moved"))
    assert (err.value.url, err.value.reason, err.value.status) == (SITE + "/moved", "http_410", 410)
    assert SITE + "/gone" in err.value.detail


def test_an_unreadable_error_body_keeps_the_status_as_the_outcome() -> None:
    router = make_router()
    router.get(PAGE).mock(return_value=html(503, body=b"x" * 5000, Retry_After="600"))
    with pytest.raises(TransientFetchError) as err:
        run(fetch_with(router, max_bytes=2048))
    assert (err.value.reason, err.value.status) == ("http_5xx", 503)
    assert err.value.retry_at is not None
