"""The h11 transport under the Fetcher's httpx client (service/fetch/transport.py) against real
servers on 127.0.0.1: TLS verified and kept alive, an untrusted certificate refused, the bytes on
the wire the same as httpx's own transport sends, keep-alive and its limits (a server closing an
idle connection, ``Connection: close``, a reused connection that died), bodies (content-length,
chunked, large, streamed), timeouts (a stalled read, per read rather than per exchange), the pool
limit, and a response abandoned half-read. (Resets, short bodies, drips, gzip and the byte cap go
through this transport in test_fetch_faults.py, by way of the Fetcher.)"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from service.fetch.transport import H11Transport

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"<p>{self.path}</p>".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for "localhost"; (port, cert)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert
    finally:
        server.shutdown()
        server.server_close()


@needs_openssl
def test_tls_verified_and_kept_alive(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server

    async def fetch() -> tuple[list[tuple[int, bytes, str]], list[int]]:
        transport = H11Transport(ssl_context=ssl.create_default_context(cafile=str(cert)))
        async with httpx.AsyncClient(transport=transport) as client:
            got = []
            for path in ("/a", "/b"):
                r = await client.get(f"https://localhost:{port}{path}")
                got.append((r.status_code, r.content, r.http_version))
            return got, [c["requests"] for c in transport.connections()]

    got, requests = asyncio.run(fetch())
    assert got == [(200, b"<p>/a</p>", "HTTP/1.1"), (200, b"<p>/b</p>", "HTTP/1.1")]
    assert requests == [2]  # one TLS connection, reused


@needs_openssl
def test_an_untrusted_certificate_is_a_connect_error(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server

    async def fetch() -> None:
        async with httpx.AsyncClient(transport=H11Transport()) as client:
            await client.get(f"https://localhost:{port}/x")

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(fetch())


# --- plain HTTP against small asyncio servers ---------------------------------------------------


class Server:
    """An asyncio server on 127.0.0.1 running ``serve`` per connection; counts connections and keeps
    every request head it read."""

    def __init__(self, serve: Serve) -> None:
        self.serve = serve
        self.accepted = 0
        self.heads: list[bytes] = []
        self.port = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            await self.serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def head(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return head

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@asynccontextmanager
async def serving(serve: Callable[[Server], Serve]) -> AsyncIterator[Server]:
    srv = Server(lambda r, w: asyncio.sleep(0))
    srv.serve = serve(srv)
    server = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
    srv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield srv


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


def keep_alive(srv: Server) -> Serve:
    """Answers every request on a connection with its path (``/big``: 3 MB)."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            path = (await srv.head(reader)).split(b" ")[1]
            writer.write(ok(path if path != b"/big" else b"x" * 3_000_000))
            await writer.drain()

    return serve


def client(transport: H11Transport | None = None, **timeout: float) -> httpx.AsyncClient:
    t = httpx.Timeout(5.0, **timeout)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport or H11Transport(), timeout=t)


def test_the_request_on_the_wire_is_httpxs() -> None:
    """Same client settings, same request: the bytes match those of httpx's own transport."""

    async def main() -> list[bytes]:
        headers = {
            "User-Agent": "jinshan-test/1",
            "Accept-Encoding": "gzip, deflate",
            "If-None-Match": '"v1"',
        }
        async with serving(keep_alive) as srv:
            for transport in (H11Transport(), httpx.AsyncHTTPTransport()):
                async with httpx.AsyncClient(transport=transport, headers=headers) as c:
                    r = await c.get(srv.url("/a/b.htm?x=1&y=%E9%87%91"))
                    assert r.content == b"/a/b.htm?x=1&y=%E9%87%91"
            return srv.heads

    ours, httpxs = asyncio.run(main())
    assert ours == httpxs
    assert ours.startswith(b"GET /a/b.htm?x=1&y=%E9%87%91 HTTP/1.1\r\nHost: 127.0.0.1:")


def test_connections_are_reused_and_limited_per_host() -> None:
    async def main() -> tuple[list[bytes], int, list[int]]:
        transport = H11Transport(max_connections_per_host=2)
        async with serving(keep_alive) as srv, client(transport) as c:
            got = await asyncio.gather(*(c.get(srv.url(f"/{i}")) for i in range(10)))
            return (
                [r.content for r in got],
                srv.accepted,
                sorted(x["requests"] for x in transport.connections()),
            )

    bodies, accepted, per_connection = asyncio.run(main())
    assert bodies == [f"/{i}".encode() for i in range(10)]
    assert accepted == 2 and per_connection == [5, 5]


def test_an_idle_connection_past_keepalive_expiry_is_not_reused() -> None:
    async def main(expiry: float) -> int:
        async with serving(keep_alive) as srv, client(H11Transport(keepalive_expiry=expiry)) as c:
            for i in range(3):
                await c.get(srv.url(f"/{i}"))
            return srv.accepted

    assert asyncio.run(main(0.0)) == 3
    assert asyncio.run(main(60.0)) == 1


def test_a_request_cancelled_while_waiting_for_its_answer_gives_its_place_back() -> None:
    """The Fetcher's whole-exchange timeout cancels a request waiting for the server: the half-used
    connection is dropped and the only place in the pool is free for the next request."""

    def slow_first(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await srv.head(reader)
                if b"/slow" in head:
                    await reader.read()  # no answer; ends when the client drops the connection
                    return
                writer.write(ok())
                await writer.drain()

        return serve

    async def main() -> tuple[bool, int, int]:
        transport = H11Transport(max_connections_per_host=1)
        async with serving(slow_first) as srv, client(transport, pool=5.0) as c:
            task = asyncio.create_task(c.get(srv.url("/slow")))
            while not srv.heads:
                await asyncio.sleep(0.01)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            after = await c.get(srv.url("/next"))
            return after.status_code == 200, srv.accepted, len(transport.connections())

    assert asyncio.run(main()) == (True, 2, 1)


def test_waiting_for_a_connection_is_bounded_by_the_pool_timeout() -> None:
    async def main() -> None:
        transport = H11Transport(max_connections_per_host=1)
        async with (
            serving(keep_alive) as srv,
            client(transport, pool=0.2) as c,
            c.stream("GET", srv.url("/held")),  # holds the only connection
        ):
            await c.get(srv.url("/second"))

    with pytest.raises(httpx.PoolTimeout):
        asyncio.run(main())


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server answers keep-alive style, then closes the socket: the next request goes on a
    new connection, whether the client saw the end of the stream before reusing (checked with
    POST, which is never sent twice) or only after (GET, sent again on a new connection)."""

    def answer_once(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await srv.head(reader)
            writer.write(ok())  # no "Connection: close": the client believes it may reuse it
            await writer.drain()

        return serve

    async def main(settle: bool) -> tuple[list[int], int]:
        transport = H11Transport()
        async with serving(answer_once) as srv, client(transport) as c:
            statuses = []
            for _ in range(3):
                statuses.append((await c.request("POST" if settle else "GET", srv.url())).status_code)
                while settle and not all(x["closed"] for x in transport.connections()):
                    await asyncio.sleep(0.01)  # until the client's loop has seen the server's FIN
            return statuses, srv.accepted

    for settle in (False, True):
        assert asyncio.run(main(settle)) == ([200, 200, 200], 3)


def test_a_reused_connection_that_dies_is_retried_once_on_a_new_one() -> None:
    """The server reads the second request on a connection and closes without an answer (its
    keep-alive ran out as the request came): sent again on a fresh connection. A fresh connection
    that does the same is an error, not retried."""

    def one_answer_per_connection(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await srv.head(reader)
            writer.write(ok())
            await writer.drain()
            await srv.head(reader)  # and close

        return serve

    def no_answer(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await srv.head(reader)

        return serve

    async def main() -> tuple[list[int], int, int]:
        async with serving(one_answer_per_connection) as srv, client() as c:
            statuses = [(await c.get(srv.url())).status_code for _ in range(3)]
        return statuses, srv.accepted, len(srv.heads)

    assert asyncio.run(main()) == ([200, 200, 200], 3, 5)

    async def fresh() -> None:
        async with serving(no_answer) as srv, client() as c:
            await c.get(srv.url())

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        asyncio.run(fresh())


def test_connection_close_http_1_0_and_bytes_past_the_body_are_not_reused() -> None:
    def closing(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await srv.head(reader)
            if b"/old" in head:
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
            elif b"/junk" in head:  # more than Content-Length said, in the same packet
                writer.write(ok() + b"HTTP/1.1 200 OK\r\n")
            else:
                writer.write(ok(extra=b"Connection: close\r\n"))
            await writer.drain()
            await reader.read()  # the client closes it

        return serve

    async def main() -> tuple[list[bytes], int, list[object]]:
        transport = H11Transport()
        async with serving(closing) as srv, client(transport) as c:
            paths = ("/new", "/new", "/old", "/old", "/junk", "/junk")
            got = [(await c.get(srv.url(p))).content for p in paths]
            return got, srv.accepted, transport.connections()

    assert asyncio.run(main()) == ([b"ok"] * 6, 6, [])


def test_chunked_large_and_streamed_bodies() -> None:
    big = bytes(range(256)) * 12_000  # 3 MB: many reads, and past the point where reading pauses

    def bodies(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await srv.head(reader)
                if b"/chunked" in head:
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for part in (b"<html>", b"x" * 5000, b"</html>"):
                        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    writer.write(b"0\r\n\r\n")
                elif b"/empty" in head:
                    writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
                else:
                    writer.write(ok(big))
                await writer.drain()

        return serve

    async def main() -> tuple[bytes, int, bytes, bytes, int]:
        async with serving(bodies) as srv, client() as c:
            chunked = (await c.get(srv.url("/chunked"))).content
            async with c.stream("GET", srv.url("/big")) as r:
                parts = [chunk async for chunk in r.aiter_raw()]
                await asyncio.sleep(0)
            empty = await c.get(srv.url("/empty"))
            return chunked, len(parts), b"".join(parts), empty.content, srv.accepted

    chunked, n_parts, streamed, empty, accepted = asyncio.run(main())
    assert chunked == b"<html>" + b"x" * 5000 + b"</html>"
    assert streamed == big and n_parts > 1
    assert empty == b"" and accepted == 1  # all on one connection


def test_a_response_left_half_read_closes_its_connection() -> None:
    """A caller that stops reading (the Fetcher's byte cap, a timeout) closes the response: that
    connection is dropped, the pool slot comes back, the next request works."""

    async def main() -> tuple[bytes, int, int]:
        transport = H11Transport(max_connections_per_host=1)
        async with serving(keep_alive) as srv, client(transport, pool=2.0) as c:
            async with c.stream("GET", srv.url("/big")) as r:
                async for _ in r.aiter_raw():
                    break
            after = await c.get(srv.url("/next"))
            return after.content, srv.accepted, len(transport.connections())

    assert asyncio.run(main()) == (b"/next", 2, 1)


def test_a_stalled_read_times_out_and_the_read_timeout_is_per_read() -> None:
    """No byte for longer than the read timeout: ReadTimeout. Bytes that keep coming, each well
    within it, are read to the end however long the whole takes."""

    def stalled(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await srv.head(reader)
            if b"/drip" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
                for _ in range(6):
                    await asyncio.sleep(0.3)
                    writer.write(b"x")
                    await writer.drain()
            await reader.read()

        return serve

    async def main() -> tuple[type[Exception], bytes]:
        async with serving(stalled) as srv, client(read=1.5) as c:
            dripped = (await c.get(srv.url("/drip"))).content  # 1.8 s in all, a byte every 0.3 s
        async with serving(stalled) as srv, client(read=0.2) as c:
            try:
                await c.get(srv.url("/stall"))
            except httpx.HTTPError as exc:
                return type(exc), dripped
        raise AssertionError("no timeout")

    assert asyncio.run(main()) == (httpx.ReadTimeout, b"xxxxxx")


def test_refused_and_unknown_schemes() -> None:
    async def refused() -> None:
        async with serving(keep_alive) as srv:
            url = srv.url()
        async with client() as c:
            await c.get(url)  # the server is gone

    with pytest.raises(httpx.ConnectError):
        asyncio.run(refused())

    async def ftp() -> None:
        async with client() as c:
            await c.get("ftp://127.0.0.1/x")

    with pytest.raises(httpx.UnsupportedProtocol):
        asyncio.run(ftp())
