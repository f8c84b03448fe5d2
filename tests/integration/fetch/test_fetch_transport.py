"""The asyncio transport under the Fetcher's httpx client, over TLS on 127.0.0.1: a certificate the
client trusts is verified and its connection kept alive; one it does not trust is a connect error.
(Plain HTTP, timeouts, resets and keep-alive are the fault tests' server, through the same transport.)"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpcore
import httpx
import pytest

from service.fetch.transport import AsyncioBackend, AsyncioTransport

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


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


def test_tls_verified_and_kept_alive(tls_server: tuple[int, Path]) -> None:
    port, cert = tls_server

    async def fetch() -> tuple[list[tuple[int, bytes]], list[str]]:
        pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=str(cert)), network_backend=AsyncioBackend()
        )
        async with pool:
            got = []
            for path in ("/a", "/b"):
                response = await pool.request("GET", f"https://localhost:{port}{path}")
                got.append((response.status, response.content))
            return got, [c.info() for c in pool.connections]

    got, connections = asyncio.run(fetch())
    assert got == [(200, b"<p>/a</p>"), (200, b"<p>/b</p>")]
    assert len(connections) == 1 and "Request Count: 2" in connections[0]  # one TLS connection, reused


def test_an_untrusted_certificate_is_a_connect_error(tls_server: tuple[int, Path]) -> None:
    port, _ = tls_server

    async def fetch() -> None:
        async with httpx.AsyncClient(transport=AsyncioTransport(limits=httpx.Limits())) as client:
            await client.get(f"https://localhost:{port}/x")

    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(fetch())


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server answers keep-alive style, then closes the socket: the pool must see the idle
    connection readable (at its end) and open a new one, not send the next request into it."""

    async def main() -> tuple[list[int], int]:
        accepted = 0
        closed = asyncio.Event()

        async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal accepted
            accepted += 1
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            writer.close()  # no "Connection: close": the client believes it may reuse it
            await writer.wait_closed()
            closed.set()  # on loopback the end of the stream is at the client's socket by now

        server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        statuses = []
        async with server, httpx.AsyncClient(transport=AsyncioTransport(limits=httpx.Limits())) as client:
            for _ in range(3):
                closed.clear()
                statuses.append((await client.get(f"http://127.0.0.1:{port}/")).status_code)
                await closed.wait()
        return statuses, accepted

    statuses, accepted = asyncio.run(main())
    assert statuses == [200, 200, 200] and accepted == 3
