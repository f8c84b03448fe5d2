"""The one way this service talks to the network: ``Fetcher.fetch(url) -> Response``.

Place in the flow (docs/architecture.md): the crawl hands a due URL to ``fetch``; the ``Response`` (raw
bytes, headers, redirect chain, WARC reference) goes on to extraction. Everything that is not a
usable 2xx or 304 is raised from ``service.errors``: ``PermanentFetchError`` when asking again will
not help, ``TransientFetchError`` with ``retry_at`` when it may.

One shared ``httpx.AsyncClient`` on httpx's own transport, built by httpx from our settings
(keep-alive pool sized by ``httpx.Limits``, gzip/deflate, our User-Agent, no automatic redirects,
TLS verified; proxies and CA files from the environment only with ``fetch.trust_env``; HTTP/2 with
``fetch.http2`` and the ``h2`` extra). Its cookie jar is httpx's, consulted only for responses that set a cookie. Each request passes, in
order: the host and scheme check, robots.txt (``robots.RobotsCache``), the per-host gate
(``politeness.HostGate``), a streamed and capped body read (``body.read_body``), then the archive
(``archive.WarcArchive``). Redirects are followed here, hop by hop, so every hop gets the same checks. Retries of timeouts, resets and 5xx happen inside ``fetch``
with exponential backoff; what is still failing is handed back with ``retry_at``.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from service.errors import ConfigError, FetchError, PermanentFetchError, Redirected, TransientFetchError
from service.fetch.archive import Exchange, WarcArchive, WarcRef, payload_digest
from service.fetch.body import BadEncoding, Body, BodyTooLarge, read_body
from service.fetch.politeness import HostGate, SharedBudget, backoff_delay, parse_retry_after
from service.fetch.robots import ROBOTS_MAX_BYTES, RobotsCache
from service.settings import Settings

#: Content types handed on as pages; anything else is reported as ``not_html``. A missing
#: Content-Type is let through: the extractor sniffs, and old Founder pages sometimes omit it.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Statuses worth retrying within one fetch (besides network errors).
_RETRY_REASONS = frozenset({"timeout", "connect_error", "reset", "truncated", "http_5xx", "rate_limited"})
#: The reason of a fetch whose exchange could not be written to the archive (a full disk).
ARCHIVE_FAILED = "archive_failed"
#: How long a host is left alone after it answered with a block page.
BLOCK_HOLD_S = 900.0

_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

BlockCheck = Callable[[bytes, str | None], str | None]
#: given a payload digest, where (URL, capture time) the archive already holds that payload, or None
KnownPayload = Callable[[str], Awaitable[tuple[str, datetime] | None]]


def type_allowed(media: str, allowed: frozenset[str]) -> bool:
    """Whether media type ``media`` ("image/png") is in ``allowed``, which may name a family
    ("image/*"). An unknown (empty) type is allowed: the archive keeps what the server sent."""
    return not media or media in allowed or f"{media.split('/', 1)[0]}/*" in allowed


@dataclass(frozen=True, slots=True)
class Response:
    """A usable answer: a 2xx page, or a 304 to a conditional request (``not_modified``, no body)."""

    requested_url: str
    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    redirects: tuple[str, ...]
    fetched_at: datetime
    content_type: str | None
    etag: str | None
    last_modified: str | None
    not_modified: bool
    payload_digest: str | None
    warc: WarcRef | None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        return _header(self.headers, name)


@dataclass(frozen=True, slots=True)
class Hold:
    """A host this fetcher sends nothing to before ``until``, and why (``rate_limited``: a 429's
    Retry-After; ``http_5xx``: a 503's; ``blocked``: a block or captcha page; ``robots_unavailable``: robots.txt unreachable)."""

    host: str
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class _Hop:
    """One request/response pair, body read, before it is judged."""

    url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    payload: bytes
    fetched_at: datetime
    warc: WarcRef | None


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


class Fetcher:
    """Polite, bounded, archiving HTTP GET for the allowed hosts. Use as ``async with``."""

    def __init__(
        self,
        settings: Settings,
        *,
        archive: WarcArchive | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        block_check: BlockCheck | None = None,
        html_types: frozenset[str] = HTML_TYPES,
        block_hold_s: float = BLOCK_HOLD_S,
        rng: random.Random | None = None,
        budget: SharedBudget | None = None,
    ) -> None:
        self._cfg = settings.fetch
        #: why the last archive write failed (the folder and the system's words), None once one worked:
        #: while set, a crawl stops claiming URLs (each would fail the same way)
        self.archive_failure: str | None = None
        self._hosts = settings.fetchable_hosts
        #: resources may also come from the profile's resource hosts (a CDN), pages never do
        self._resource_hosts = settings.resource_hosts
        self._resource_types = frozenset(self._cfg.resource_types)
        self._archive = archive
        self._block_check = block_check
        self._html_types = html_types
        self._block_hold_s = block_hold_s
        self._rng = rng or random.Random()
        self._ua = self._cfg.user_agent_string
        self._client = self._make_client(transport)
        self._gate = HostGate(
            requests_per_second=self._cfg.requests_per_second,
            concurrency=self._cfg.concurrency,
            max_wait=self._cfg.backoff_max_s,
            shared=budget,
        )
        self._robots = RobotsCache(
            self._load_robots,
            user_agent=self._ua,
            ttl_s=self._cfg.robots_ttl_s,
            unreachable_hold_s=self._cfg.robots_unreachable_hold_s,
        )

    def _make_client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        cfg = self._cfg
        # Read timeout equals the total: the total (asyncio.timeout around each exchange) is the
        # binding one, and it also stops a server that drips one byte at a time.
        timeout = httpx.Timeout(cfg.timeout_s, connect=cfg.connect_timeout_s)
        pool = cfg.concurrency * (len(self._hosts) + 1)
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        try:
            # no transport given: httpx builds its own from these (and, with trust_env, one per
            # proxy named in the environment), as its documentation describes
            return _Client(
                transport=transport,
                timeout=timeout,
                limits=limits,
                http2=cfg.http2,
                headers={"User-Agent": self._ua, "Accept-Encoding": "gzip, deflate", "Accept": _ACCEPT},
                follow_redirects=False,
                trust_env=cfg.trust_env,
            )
        except ImportError as exc:  # httpx asks for h2 only when http2 is on
            raise ConfigError(
                "fetch.http2", "true needs the h2 package: pip install 'jinshan-archiver[h2]'"
            ) from exc

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool and end this process's shared batches of starts (the starts not
        used go back to the host). The archive is the caller's and stays open."""
        try:
            await self._gate.aclose()
        finally:
            await self._client.aclose()

    def holds(self) -> list[Hold]:
        """The hosts held off now (by this process or, with a shared budget, another), soonest end
        first: what a summary must name, since URLs of those hosts wait in the frontier."""
        return [Hold(host, until, reason) for host, until, reason in self._gate.holds()]

    # --- the public call --------------------------------------------------------------------

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        previous_digest: str | None = None,
        follow: Callable[[str], bool | Awaitable[bool]] | None = None,
        resource: bool = False,
        known_payload: KnownPayload | None = None,
    ) -> Response:
        """GET ``url`` politely; a ``Response`` for 2xx and 304, a ``FetchError`` for the rest.

        ``resource``: ``url`` is a page's image, stylesheet, font or scan, not a page: the hosts
        allowed are ``Settings.resource_hosts``, the type must be one of ``fetch.resource_types``
        ("refused_type" otherwise), the size at most ``fetch.max_resource_bytes`` ("too_large").
        ``known_payload(digest)``: where the archive already holds this payload under another URL;
        the response is then written as a revisit record that refers to it.

        ``follow(target)`` (or its awaited answer) is asked before each redirect hop; False stops
        there with ``Redirected``
        (the crawl uses it not to download again a page it already has under its canonical URL).

        ``etag``/``last_modified`` (from the last Response of this URL) make the request
        conditional; ``previous_digest`` (its ``payload_digest``) turns an unchanged body into a
        WARC revisit record. Timeouts, resets and 5xx are retried ``fetch.retries`` times with
        backoff; a server's ``Retry-After`` up to ``backoff_max_s`` is waited out, a longer one is
        handed back as ``retry_at``.
        """
        self._check_target(url, url, resource=resource)
        headers = self._conditional_headers(etag, last_modified)
        attempt = 0
        while True:
            try:
                return await self._fetch_once(
                    url, headers, previous_digest, follow, resource=resource, known_payload=known_payload
                )
            except TransientFetchError as exc:
                delay = self._retry_delay(exc, attempt)
                if delay is None:
                    raise _about(url, exc) from exc.__cause__
            except PermanentFetchError as exc:
                raise _about(url, exc) from exc.__cause__
            attempt += 1
            await asyncio.sleep(delay)

    def _retry_delay(self, exc: TransientFetchError, attempt: int) -> float | None:
        """Seconds to wait before trying again inside this fetch, or None to give up now."""
        if exc.reason not in _RETRY_REASONS or attempt >= self._cfg.retries:
            return None
        if exc.retry_at is not None:
            wait = (exc.retry_at - datetime.now(UTC)).total_seconds()
            return max(0.0, wait) if wait <= self._cfg.backoff_max_s else None
        return backoff_delay(
            attempt, base=self._cfg.backoff_base_s, cap=self._cfg.backoff_max_s, rng=self._rng
        )

    def _conditional_headers(self, etag: str | None, last_modified: str | None) -> dict[str, str]:
        if not self._cfg.conditional_requests:
            return {}
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return headers

    # --- one attempt: redirects, then judgement ----------------------------------------------

    async def _fetch_once(
        self,
        url: str,
        headers: dict[str, str],
        previous_digest: str | None,
        follow: Callable[[str], bool | Awaitable[bool]] | None = None,
        *,
        resource: bool = False,
        known_payload: KnownPayload | None = None,
    ) -> Response:
        chain: list[str] = []
        current = url
        while True:
            await self._check_robots(current)
            hop = await self._request(
                current, headers, previous_digest=previous_digest, pages=not resource,
                max_bytes=self._cfg.max_resource_bytes if resource else None,
                resource_types=self._resource_types if resource else None, known_payload=known_payload,
            )  # fmt: skip
            location = _header(hop.headers, "location")
            if hop.status not in REDIRECT_STATUSES or not location:
                return self._judge(url, hop, tuple(chain))
            chain.append(current)
            current = self._next_hop(url, current, location, chain, resource=resource)
            if follow is not None:
                go = follow(current)
                if not (await go if inspect.isawaitable(go) else go):
                    raise Redirected(url, current, status=hop.status)

    def _next_hop(
        self, url: str, current: str, location: str, chain: list[str], *, resource: bool = False
    ) -> str:
        target = urljoin(current, location.strip()).split("#", 1)[0]
        detail = " -> ".join([*chain, target])
        if target in chain:
            raise PermanentFetchError(url, "redirect_loop", detail)
        if len(chain) > self._cfg.max_redirects:
            raise PermanentFetchError(url, "too_many_redirects", detail)
        self._check_target(url, target, detail, resource=resource)
        return target

    def _check_target(self, url: str, target: str, detail: str = "", *, resource: bool = False) -> None:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https"):
            raise PermanentFetchError(url, "refused_scheme", detail or target)
        if (parts.hostname or "").lower() not in (self._resource_hosts if resource else self._hosts):
            raise PermanentFetchError(url, "refused_host", detail or target)

    async def _check_robots(self, url: str) -> None:
        if not self._cfg.obey_robots:
            return
        try:
            rules = await self._robots.rules(url)
        except TransientFetchError as exc:
            if exc.retry_at is not None:
                self._gate.hold(url, exc.retry_at, exc.reason)
            raise
        self._gate.set_crawl_delay(url, rules.crawl_delay)
        if not rules.allowed:
            raise PermanentFetchError(url, "robots_disallowed")

    def _judge(self, requested: str, hop: _Hop, chain: tuple[str, ...]) -> Response:
        """Turn the last hop into a Response, or raise the error its status calls for."""
        status = hop.status
        if status == 304 or 200 <= status < 300:
            ctype = _header(hop.headers, "content-type")
            if status != 304 and self._block_check is not None:
                marker = self._block_check(hop.body, ctype)
                if marker:
                    until = hop.fetched_at + timedelta(seconds=self._block_hold_s)
                    self._gate.hold(hop.url, until, "blocked")
                    raise TransientFetchError(hop.url, "blocked", marker, status=status, retry_at=until)
            return Response(
                requested_url=requested,
                url=hop.url,
                status=status,
                headers=hop.headers,
                body=hop.body if status != 304 else b"",
                redirects=chain,
                fetched_at=hop.fetched_at,
                content_type=ctype,
                etag=_header(hop.headers, "etag"),
                last_modified=_header(hop.headers, "last-modified"),
                not_modified=status == 304,
                payload_digest=None if status == 304 else _digest(hop),
                warc=hop.warc,
            )
        raise self._status_error(hop)

    def _status_error(self, hop: _Hop) -> FetchError:
        status, url = hop.status, hop.url
        if status in (429, 503):
            retry_at = parse_retry_after(_header(hop.headers, "retry-after"), now=datetime.now(UTC))
            if retry_at is not None:
                cap = hop.fetched_at + timedelta(seconds=self._cfg.retry_after_max_s)
                retry_at = min(retry_at, cap)
                self._gate.hold(url, retry_at, "rate_limited" if status == 429 else "http_5xx")
            reason = "rate_limited" if status == 429 else "http_5xx"
            return TransientFetchError(url, reason, status=status, retry_at=retry_at)
        if status >= 500 or status == 408:
            return TransientFetchError(url, "http_5xx" if status >= 500 else "timeout", status=status)
        if status in (404, 410):
            return PermanentFetchError(url, f"http_{status}", status=status)
        if 300 <= status < 400:
            return PermanentFetchError(url, "http_3xx", "redirect without Location", status=status)
        return PermanentFetchError(url, "http_4xx", status=status)

    # --- one HTTP exchange ---------------------------------------------------------------------

    async def _request(
        self,
        url: str,
        headers: dict[str, str],
        *,
        previous_digest: str | None = None,
        pages: bool,
        max_bytes: int | None = None,
        resource_types: frozenset[str] | None = None,
        known_payload: KnownPayload | None = None,
    ) -> _Hop:
        """Send one GET through the host gate, read the body within the cap, archive the exchange."""
        async with self._gate.slot(url):
            try:
                async with asyncio.timeout(self._cfg.timeout_s):
                    hop, exchange = await self._exchange(
                        url, headers, pages, max_bytes or self._cfg.max_bytes, resource_types
                    )
            except TimeoutError:
                raise TransientFetchError(
                    url, "timeout", f"no complete answer in {self._cfg.timeout_s}s"
                ) from None
        if self._archive is not None:
            refers_to = None
            if known_payload is not None and 200 <= hop.status < 300:
                refers_to = await known_payload(payload_digest(hop.payload))
                if refers_to is not None and refers_to[0] == url:
                    refers_to = None  # the same URL: ``previous_digest`` decides
            try:
                ref = await self._archive.awrite(
                    exchange, previous_digest=previous_digest, refers_to=refers_to
                )
            except OSError as exc:
                # A page we could not archive is not kept either: the archive is the evidence, and
                # a full or read-only disk should stop the crawl's progress visibly, not silently.
                self.archive_failure = f"{self._archive.directory}: {exc.strerror or exc}"
                raise TransientFetchError(url, ARCHIVE_FAILED, str(exc), status=hop.status) from exc
            self.archive_failure = None
            hop = _Hop(hop.url, hop.status, hop.headers, hop.body, hop.payload, hop.fetched_at, ref)
        return hop

    async def _exchange(
        self,
        url: str,
        headers: dict[str, str],
        pages: bool,
        max_bytes: int,
        resource_types: frozenset[str] | None = None,
    ) -> tuple[_Hop, Exchange]:
        try:
            request = self._client.build_request("GET", url, headers=headers)
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise _network_error(url, exc) from exc
        try:
            fetched_at = datetime.now(UTC)
            resp_headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw)
            if pages and 200 <= response.status_code < 300:
                self._check_type(url, _header(resp_headers, "content-type"), response.status_code)
            elif resource_types is not None and 200 <= response.status_code < 300:
                media = _media_type(_header(resp_headers, "content-type"))
                if not type_allowed(media, resource_types):
                    raise PermanentFetchError(url, "refused_type", media, status=response.status_code)
            body = await self._read_any(url, response, resp_headers, max_bytes)
        finally:
            await response.aclose()
        hop = _Hop(url, response.status_code, resp_headers, body.data, body.raw, fetched_at, None)
        return hop, _exchange_record(request, response, resp_headers, body.raw, fetched_at)

    def _check_type(self, url: str, content_type: str | None, status: int) -> None:
        media = _media_type(content_type)
        if media and media not in self._html_types:
            raise PermanentFetchError(url, "not_html", media, status=status)

    async def _read_any(
        self, url: str, response: httpx.Response, headers: tuple[tuple[str, str], ...], max_bytes: int
    ) -> Body:
        """The body; for a non-2xx answer a body that cannot be read becomes empty instead of an
        error, because there the status is the outcome (a 503 must stay a 503, not "too_large")."""
        try:
            return await self._read(url, response, headers, max_bytes)
        except FetchError:
            if 200 <= response.status_code < 300:
                raise
            return Body(raw=b"", data=b"")

    async def _read(
        self, url: str, response: httpx.Response, headers: tuple[tuple[str, str], ...], max_bytes: int
    ) -> Body:
        status = response.status_code
        declared = _header(headers, "content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise PermanentFetchError(url, "too_large", f"Content-Length {declared}", status=status)
        encoding = _header(headers, "content-encoding") or ""
        try:
            body = await read_body(_raw_chunks(response), encoding=encoding, max_bytes=max_bytes)
        except BodyTooLarge as exc:
            raise PermanentFetchError(url, "too_large", f"over {max_bytes} bytes", status=status) from exc
        except BadEncoding as exc:
            raise PermanentFetchError(url, "bad_encoding", str(exc), status=status) from exc
        except httpx.HTTPError as exc:
            raise _network_error(url, exc, status=status) from exc
        if declared and declared.isdigit() and len(body.raw) < int(declared):
            detail = f"{len(body.raw)} of {declared} bytes"
            raise TransientFetchError(url, "truncated", detail, status=status)
        return body

    # --- robots.txt through the same pipe ---------------------------------------------------------

    async def _load_robots(self, robots_url: str) -> tuple[int, bytes]:
        """GET robots.txt: same gate, archive and redirect rules as pages, no robots check of its own."""
        chain: list[str] = []
        current = robots_url
        while True:
            hop = await self._request(current, {}, pages=False, max_bytes=ROBOTS_MAX_BYTES)
            location = _header(hop.headers, "location")
            if hop.status not in REDIRECT_STATUSES or not location:
                return hop.status, hop.body
            chain.append(current)
            current = self._next_hop(robots_url, current, location, chain)


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, which looks at a response only when it sets a cookie: building the
    jar's urllib view of every request and response cost more than the rest of the client."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.AsyncClient):
    """``httpx.AsyncClient`` with ``_Cookies`` for a jar (same cookies kept and sent)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cookies = None

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:  # httpx.Cookies, a dict, a list of pairs or None
        self._jar = _Cookies(cookies)


def _about(url: str, exc: FetchError) -> FetchError:
    """``exc`` re-addressed to the URL the caller asked for, so the frontier can file it; the hop
    where it happened (after redirects) goes into the detail."""
    if exc.url == url:
        return exc
    detail = f"at {exc.url}" + (f": {exc.detail}" if exc.detail else "")
    if isinstance(exc, TransientFetchError):
        return TransientFetchError(
            url, exc.reason, detail, status=exc.status, retry_at=exc.retry_at, sent=exc.sent
        )
    return PermanentFetchError(url, exc.reason, detail, status=exc.status)


def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The raw body stream. In-memory transports (httpx.MockTransport, a respx router) hand over
    responses whose body httpx has already read; their raw bytes are still in ``response.stream``."""
    if response.is_stream_consumed:
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        return stream.__aiter__()
    return response.aiter_raw()


def _exchange_record(
    request: httpx.Request,
    response: httpx.Response,
    headers: tuple[tuple[str, str], ...],
    payload: bytes,
    fetched_at: datetime,
) -> Exchange:
    target = request.url.raw_path.decode("ascii", errors="replace")
    return Exchange(
        url=str(request.url),
        method=request.method,
        request_target=target,
        request_headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw),
        http_version=response.http_version,
        status=response.status_code,
        reason=response.reason_phrase,
        response_headers=headers,
        payload=payload,
        fetched_at=fetched_at,
    )


def _network_error(url: str, exc: httpx.HTTPError, *, status: int | None = None) -> FetchError:
    """Map an httpx exception to our vocabulary: timeout, connect_error, truncated, reset."""
    if isinstance(exc, httpx.TimeoutException):
        reason = "timeout"
    elif isinstance(exc, httpx.ConnectError):
        reason = "connect_error"
    elif isinstance(exc, httpx.RemoteProtocolError) and "complete message body" in str(exc):
        reason = "truncated"
    elif isinstance(exc, httpx.UnsupportedProtocol):
        return PermanentFetchError(url, "refused_scheme", str(exc), status=status)
    else:
        reason = "reset"
    return TransientFetchError(url, reason, f"{type(exc).__name__}: {exc}", status=status)


def _digest(hop: _Hop) -> str:
    """The payload's digest: the archive's, when it wrote the exchange (one hash per payload)."""
    if hop.warc is not None and hop.warc.payload_digest is not None:
        return hop.warc.payload_digest
    return payload_digest(hop.payload)
