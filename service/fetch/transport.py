"""The HTTP transport under the ``Fetcher``'s ``httpx.AsyncClient``: HTTP/1.1 with h11 on asyncio,
a keep-alive pool per origin.

Part of the fetch stage. httpx stays the client (requests, headers, cookies, responses); this
replaces only what sits below ``AsyncBaseTransport``: httpcore's connection pool and its network
backend. h11 (the parser httpcore itself uses) frames the bytes, so requests go on the wire exactly
as before. What this drops per request: httpcore's pool bookkeeping (every pooled connection
checked, with a poll system call, before and after each request), its locks (through sniffio),
trace hooks and exception maps, and one ``asyncio.timeout`` per socket read and write; h11's check
of the request headers runs once per distinct header set (they repeat: the client's, the host's).

- **Pool.** Per origin (scheme, host, port) a stack of idle connections and a semaphore of
  ``max_connections_per_host``. An idle connection is reused while younger than
  ``keepalive_expiry`` and while the protocol has seen nothing on it (no data, no end of stream,
  transport open): asyncio already read the socket, so no poll is needed to know the server closed
  it. A reused connection that fails before the first response byte (the server closed it as we
  reused it) is retried once on a fresh connection, for idempotent methods only.
- **Timeouts.** ``connect`` bounds the TCP and TLS set-up, ``pool`` the wait for a free connection,
  ``write`` a request the socket would not take, ``read`` every wait for response bytes, as in
  httpx, but with one timer per exchange that is pushed on when bytes arrive instead of a timer per
  read.
- **TLS** through ``ssl`` (``loop.create_connection(ssl=...)``), verified with httpx's default
  context (certifi), SNI the request's host.
- **Errors** are httpx's, as its own transport raises them: ``ConnectError``/``ConnectTimeout``,
  ``ReadError``/``ReadTimeout``, ``WriteError``/``WriteTimeout``, ``PoolTimeout``,
  ``RemoteProtocolError`` (h11's messages, "peer closed connection without sending complete message
  body" included), ``UnsupportedProtocol``.

Measured, client CPU per request against a local server in its own process (13.7 KB pages, one
host, robots off; 2 cores shared with other work), the tree before (httpcore's pool on asyncio
streams) and this one in the same session, two runs each:

    .venv/bin/python benchmarks/fetch.py --checkpoints 5000 --concurrency 2,8 --no-archive --transport h11,httpx

| transport | 2 in flight | 8 in flight |
|---|---:|---:|
| httpcore's pool on asyncio streams (before) | 0.63–0.64 ms | 0.55–0.61 ms |
| httpx's own (httpcore on anyio; ``trust_env``) | 0.57–0.59 ms | 0.70–0.71 ms |
| this one | 0.31–0.32 ms | 0.30–0.37 ms |

With archiving on (``benchmarks/fetch.py``, 8 in flight): 0.99–1.00 ms became 0.65–0.69 ms. The 1-worker
backfill (``benchmarks/crawl.py --sizes 2000 --workers 1 --skip-day --baseline <tree before>``, three
runs): 8.3–8.5 ms CPU per article became 6.5–6.9 ms; a control run with the same tree on both sides
showed 7.8 against 7.5, so about 0.3 ms of each gap is the order of the pair.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import h11
import httpx

#: anyio's default for racing the addresses of a host (RFC 8305), kept from httpcore's backend
HAPPY_EYEBALLS_DELAY_S = 0.25
#: h11's limit on a response head, as httpcore sets it
MAX_HEAD_BYTES = 100 * 1024
#: received bytes held before the socket is paused (the reader is behind)
_HIGH_WATER = 1024 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
#: distinct request header sets whose h11 validation is remembered
_HEADER_SETS = 256
_BODY_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_DEFAULT_PORTS = {b"http": 80, b"https": 443}

Origin = tuple[bytes, bytes, int]


class _Stale(Exception):
    """A reused connection gave nothing back: the server had closed it."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: an asyncio protocol feeding received bytes to an h11 client."""

    def __init__(self, loop: asyncio.AbstractEventLoop, origin: Origin) -> None:
        self.loop = loop
        self.origin = origin
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_BYTES)
        self.transport: asyncio.Transport | None = None
        self.requests = 0  # exchanges started on it
        self.idle_since = 0.0
        self._chunks: list[bytes] = []
        self._pending = 0
        self._eof = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused_reading = False
        # the read timeout: one timer per exchange, pushed on by activity
        self._read_timeout: float | None = None
        self._active_at = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timed_out = False
        self.received = 0  # bytes received since the current request was sent

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(data)
        self._pending += len(data)
        self.received += len(data)
        self._active_at = self.loop.time()
        if self._pending > _HIGH_WATER and self.transport is not None and not self._paused_reading:
            self._paused_reading = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_writing(self) -> None:
        if self._drain is None or self._drain.done():
            self._drain = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- state ------------------------------------------------------------------------------

    def reusable(self, now: float, expiry: float | None) -> bool:
        """Idle and, as far as the event loop has seen, still open: nothing received since the last
        response ended (a server only sends, unasked, to say it is closing) and not expired."""
        return (
            not self.closed
            and not self._chunks
            and (expiry is None or now - self.idle_since < expiry)
            and self.h11.our_state is h11.IDLE
        )

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing() or self._eof

    def close(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abort()

    # --- I/O ----------------------------------------------------------------------------------

    async def write(self, data: bytes, timeout: float | None) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("connection closed")
        transport.write(data)  # errors of the socket come back as connection_lost
        drain = self._drain
        if drain is not None and not drain.done():
            async with asyncio.timeout(timeout):
                await drain

    def arm(self, read_timeout: float | None) -> None:
        """Start an exchange: count received bytes from zero, start the read timer."""
        self.received = 0
        self._timed_out = False
        self._read_timeout = read_timeout
        if read_timeout is not None:
            self._active_at = self.loop.time()
            self._timer = self.loop.call_at(self._active_at + read_timeout, self._check_timeout)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_timeout(self) -> None:
        """The timer fired: a read has waited ``read_timeout`` without a byte; otherwise push on."""
        self._timer = None
        assert self._read_timeout is not None
        now = self.loop.time()
        if self._waiter is None:  # the caller is busy with what it has: a later read starts anew
            self._timer = self.loop.call_at(now + self._read_timeout, self._check_timeout)
            return
        due = self._active_at + self._read_timeout
        if now >= due:
            self._timed_out = True
            self._wake()
        else:  # bytes came, or the read began, since the timer was set
            self._timer = self.loop.call_at(due, self._check_timeout)

    async def read(self) -> bytes:
        """The bytes received so far (waiting for some), b"" at the end of the stream."""
        while not self._chunks:
            if self._eof:
                if self._error is not None:
                    raise self._error
                return b""
            waiter = self.loop.create_future()
            self._waiter = waiter
            self._active_at = self.loop.time()
            try:
                await waiter
            finally:
                self._waiter = None
            if self._timed_out:
                self.abort()
                raise httpx.ReadTimeout("timed out")
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        self._pending = 0
        if self._paused_reading and self.transport is not None:
            self._paused_reading = False
            self.transport.resume_reading()
        return data

    async def next_event(self) -> h11.Event | type[h11.PAUSED]:
        """The next h11 event of the response, reading as needed."""
        conn = self.h11
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            try:
                data = await self.read()
            except OSError as exc:
                if self.received == 0 and self.requests > 1:
                    raise _Stale from exc
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if not data and conn.their_state is h11.SEND_RESPONSE:
                if self.received == 0 and self.requests > 1:
                    raise _Stale
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            conn.receive_data(data)

    def finish(self) -> bool:
        """End the exchange: True when the connection may carry the next request."""
        self._cancel_timer()
        conn = self.h11
        if (
            conn.our_state is h11.DONE
            and conn.their_state is h11.DONE
            and not self._error
            and not conn.trailing_data[0]  # bytes after the response: out of step, not reused
        ):
            conn.start_next_cycle()
            self.idle_since = self.loop.time()
            return self.transport is not None and not self.transport.is_closing()
        return False


@dataclass(eq=False)
class _OriginPool:
    limit: asyncio.Semaphore
    idle: list[_Connection] = field(default_factory=list)
    live: set[_Connection] = field(default_factory=set)


class _Body(httpx.AsyncByteStream):
    """The response body as it arrives; ending or closing it hands the connection back."""

    def __init__(self, transport: H11Transport, pool: _OriginPool, conn: _Connection) -> None:
        self._transport = transport
        self._pool = pool
        self._conn: _Connection | None = conn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                event = await conn.next_event()
                if type(event) is h11.Data:
                    yield bytes(event.data)
                elif type(event) is h11.EndOfMessage or event is h11.PAUSED:
                    break
        except _Stale as exc:  # cannot be stale once the head arrived; keep the type honest
            raise httpx.ReadError("connection closed") from exc
        self._release()

    async def aclose(self) -> None:
        self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._transport._release(self._pool, conn)


class H11Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with h11: ``http`` and ``https`` (verified), keep-alive per origin."""

    def __init__(
        self,
        *,
        max_connections_per_host: int = 10,
        keepalive_expiry: float | None = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._per_host = max_connections_per_host
        self._expiry = keepalive_expiry
        self._ssl_context = ssl_context
        self._pools: dict[Origin, _OriginPool] = {}
        # h11 validates every header of every request; the same header set (the client's, the
        # host's) comes again and again, so its validated form is kept and handed back to h11
        self._headers: dict[tuple[tuple[bytes, bytes], ...], h11._headers.Headers] = {}
        self._closed = False

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:  # built on first https use: loading certifi costs ~20 ms
            self._ssl_context = httpx.create_ssl_context(trust_env=False)
        return self._ssl_context

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            if not scheme:
                raise httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol.")
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme.decode()}://'."
            )
        origin = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _OriginPool(asyncio.Semaphore(self._per_host))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        await self._acquire(pool, timeouts.get("pool"))
        conn: _Connection | None = None
        try:
            events = await self._request_events(request)
            conn = self._idle(pool) or await self._connect(origin, pool, timeouts.get("connect"))
            try:
                event = await self._exchange(conn, events, timeouts)
            except _Stale:  # only a reused connection is stale: again, once, on a new one
                stale, conn = conn, None
                stale.abort()
                pool.live.discard(stale)
                if request.method not in _IDEMPOTENT:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a response."
                    ) from None
                conn = await self._connect(origin, pool, timeouts.get("connect"))
                event = await self._exchange(conn, events, timeouts)
        except BaseException:
            if conn is not None:
                conn.abort()
                pool.live.discard(conn)
            pool.limit.release()
            raise
        return httpx.Response(
            status_code=event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, pool, conn),
            extensions={"http_version": b"HTTP/" + event.http_version, "reason_phrase": event.reason},
        )

    async def _acquire(self, pool: _OriginPool, timeout: float | None) -> None:
        if not pool.limit.locked():
            await pool.limit.acquire()
            return
        try:
            async with asyncio.timeout(timeout):
                await pool.limit.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("timed out waiting for a connection") from None

    async def _request_events(self, request: httpx.Request) -> list[h11.Event]:
        """The request as h11 events (the body read once, so a retry can send it again)."""
        headers = request.headers.raw
        key = tuple(headers)
        checked = self._headers.get(key)
        try:
            head = h11.Request(method=request.method, target=request.url.raw_path, headers=checked or headers)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        if checked is None:
            if len(self._headers) >= _HEADER_SETS:
                self._headers.clear()
            self._headers[key] = head.headers
        events: list[h11.Event] = [head]
        if any(k.lower() in _BODY_HEADERS for k, _ in headers):
            async for chunk in request.stream:  # type: ignore[union-attr]
                if chunk:
                    events.append(h11.Data(data=chunk))
        events.append(h11.EndOfMessage())
        return events

    def _idle(self, pool: _OriginPool) -> _Connection | None:
        idle = pool.idle
        if not idle:
            return None
        now = idle[-1].loop.time()
        while idle:
            conn = idle.pop()
            if conn.reusable(now, self._expiry):
                return conn
            conn.close()
            pool.live.discard(conn)
        return None

    async def _exchange(
        self, conn: _Connection, events: list[h11.Event], timeouts: dict[str, float | None]
    ) -> h11.Response:
        conn.requests += 1
        try:
            data = b"".join(conn.h11.send(e) or b"" for e in events)
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from exc
        conn.arm(timeouts.get("read"))
        try:
            await conn.write(data, timeouts.get("write"))
        except TimeoutError:
            raise httpx.WriteTimeout("timed out") from None
        except OSError as exc:
            if conn.requests > 1 and conn.received == 0:
                raise _Stale from exc
            # Like httpcore, read on: a server may answer (and close) before taking the request.
        while True:
            event = await conn.next_event()
            if type(event) is h11.Response:
                return event
            if type(event) is not h11.InformationalResponse:  # pragma: no cover - h11 orders events
                raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before the response")

    async def _connect(self, origin: Origin, pool: _OriginPool, timeout: float | None) -> _Connection:
        scheme, host_bytes, port = origin
        host = host_bytes.decode("ascii")
        loop = asyncio.get_running_loop()
        tls = self._ssl() if scheme == b"https" else None
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, origin),
                    host,
                    port,
                    ssl=tls,
                    server_hostname=host if tls is not None else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out") from exc
        except OSError as exc:  # ssl.SSLError, refused, unreachable, name resolution
            raise httpx.ConnectError(str(exc)) from exc
        pool.live.add(conn)
        return conn

    def _release(self, pool: _OriginPool, conn: _Connection) -> None:
        if conn.finish() and not self._closed:
            pool.idle.append(conn)
        else:
            conn.close()
            pool.live.discard(conn)
        pool.limit.release()

    async def aclose(self) -> None:
        self._closed = True
        for pool in self._pools.values():
            for conn in pool.live:
                conn.close()
            pool.live.clear()
            pool.idle.clear()
        await asyncio.sleep(0)  # let the transports drop their sockets before the loop may end

    def connections(self) -> list[dict[str, Any]]:
        """Pooled connections, for tests and diagnostics: origin, requests served, idle or not, and
        whether the event loop has seen it closed (it is dropped when next taken from the pool)."""
        return [
            {"origin": origin, "requests": conn.requests, "idle": conn in pool.idle, "closed": conn.closed}
            for origin, pool in self._pools.items()
            for conn in pool.live
        ]
