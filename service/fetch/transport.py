"""The HTTP transport under the ``Fetcher``'s ``httpx.AsyncClient``: httpx's own, with its connection
pool's sockets on asyncio streams.

Part of the fetch stage. httpx (and httpcore's pool, HTTP/1.1 parser and keep-alive) stay; only the
network backend below the pool changes. httpcore's default backend goes through anyio, which for
every idle connection the pool checks before a request (``has_expired``, all connections, at every
request and every response's end) rebuilds the socket's attribute table, with a ``getpeername``
system call, and wraps each read and write in a cancel scope. ``AsyncioBackend`` reads and writes
asyncio streams directly and keeps the socket for the readability check: 0.03–0.1 ms less CPU per
request (``benchmarks/fetch.py --no-archive``, 2 and 8 in flight), 5–10 % of the client's cost.

Errors are httpcore's, as the anyio backend raises them (connect, read and write timeouts and
errors), so httpx maps them to the same exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
#: anyio's default for racing the addresses of a host (RFC 8305), kept
HAPPY_EYEBALLS_DELAY_S = 0.25


@contextlib.contextmanager
def _mapped(timeout_error: type[Exception], os_error: type[Exception]) -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        raise timeout_error(exc) from exc
    except OSError as exc:  # ssl.SSLError and the connection errors included
        raise os_error(exc) from exc


def _readable(sock: socket.socket | None) -> bool:
    """Whether reading ``sock`` would not block: on an idle keep-alive connection, that the server
    closed it (or sent something it should not have). A closed socket counts as readable."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection as an asyncio reader and writer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._socket: socket.socket | None = writer.get_extra_info("socket")

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            self._writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()  # the transport closes the socket once its buffer is flushed

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return _readable(self._socket)
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        return self._writer.get_extra_info(info)  # "ssl_object", "socket"


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """TCP connections for httpcore's pool, as ``AsyncioStream``s."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S,
                )
        sock = writer.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return AsyncioStream(reader, writer)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[SocketOption] | None = None
    ) -> httpcore.AsyncNetworkStream:
        with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class AsyncioTransport(httpx.AsyncHTTPTransport):
    """``httpx.AsyncHTTPTransport`` (HTTP/1.1, TLS verified as httpx does, nothing read from the
    environment) whose pool connects with ``AsyncioBackend``."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
