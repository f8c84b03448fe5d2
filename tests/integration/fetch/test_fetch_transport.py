"""The Fetcher on httpx's own transport against real servers on 127.0.0.1: TLS verified (the CA
from the environment with ``fetch.trust_env``) and kept alive, an untrusted certificate refused,
HTTP/2 with ``fetch.http2``, proxies from the environment only with ``fetch.trust_env``, the request
on the wire, keep-alive and its limits (a server closing an idle connection, ``Connection: close``,
a reused connection that died), bodies (chunked, large, 304, cut at the byte cap), the read
timeout and a timed-out request giving its connection back. (Resets, short bodies, drips, gzip and
retries go through the same Fetcher in test_fetch_faults.py.)"""

from __future__ import annotations

import asyncio
import http.server
import importlib.util
import shutil
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from service.errors import ConfigError, FetchError, PermanentFetchError, TransientFetchError
from service.fetch import Fetcher, Response, WarcArchive, iter_responses
from tests.support.faultserver import fast_settings

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
needs_h2 = pytest.mark.skipif(
    importlib.util.find_spec("h2") is None, reason="needs the h2 extra: pip install 'jinshan-archiver[h2]'"
)

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def settings(**fetch: Any) -> Any:
    """Test settings: no robots.txt (the servers here answer only what each test asks)."""
    return fast_settings(hosts=("127.0.0.1", "localhost"), **{"obey_robots": False, **fetch})


# --- TLS ----------------------------------------------------------------------------------------


class _Page(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        body = f"<p>{self.path}</p>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for "localhost"; (cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[int, Path, type[_Page]]]:
    """An HTTPS (HTTP/1.1) server on 127.0.0.1; (port, cert, handler class counting connections)."""
    cert, key = certificate
    handler = type("Page", (_Page,), {"connections": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], cert, handler
    finally:
        server.shutdown()
        server.server_close()


async def _get_all(fetcher: Fetcher, urls: list[str]) -> list[Response]:
    return [await fetcher.fetch(url) for url in urls]


@needs_openssl
def test_tls_verified_with_the_environments_ca_and_kept_alive(
    tls_server: tuple[int, Path, type[_Page]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert, handler = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))

    async def main() -> list[Response]:
        async with Fetcher(settings(trust_env=True)) as f:
            return await _get_all(f, [f"https://localhost:{port}/a", f"https://localhost:{port}/b"])

    got = asyncio.run(main())
    assert [(r.status, r.body) for r in got] == [(200, b"<p>/a</p>"), (200, b"<p>/b</p>")]
    assert handler.connections == 1  # one TLS connection, reused


@needs_openssl
def test_an_untrusted_certificate_is_refused(
    tls_server: tuple[int, Path, type[_Page]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert, _ = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # read only with trust_env, which is off

    async def main() -> None:
        async with Fetcher(settings(retries=0)) as f:
            await f.fetch(f"https://localhost:{port}/x")

    with pytest.raises(TransientFetchError) as err:
        asyncio.run(main())
    assert err.value.reason == "connect_error" and "CERTIFICATE_VERIFY_FAILED" in err.value.detail


# --- HTTP/2 -------------------------------------------------------------------------------------


@asynccontextmanager
async def h2_server(cert: Path, key: Path) -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTPS server that speaks only HTTP/2 (ALPN "h2"); (port, paths asked)."""
    import h2.config
    import h2.connection
    import h2.events

    paths: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while data := await reader.read(65536):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    path = dict(event.headers)[b":path"]
                    paths.append(path.decode())
                    body = b"<p>" + path + b"</p>"
                    conn.send_headers(event.stream_id, [(":status", "200"), ("content-type", "text/html"),
                                                        ("content-length", str(len(body)))])  # fmt: skip
                    conn.send_data(event.stream_id, body, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
        writer.close()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["h2"])
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    async with server:
        yield server.sockets[0].getsockname()[1], paths


@needs_h2
def test_http2_when_asked_for_and_archived(
    certificate: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    archive = WarcArchive(tmp_path / "warc")

    async def main() -> tuple[list[Response], list[str]]:
        async with h2_server(cert, key) as (port, paths), Fetcher(settings(trust_env=True, http2=True),
                                                                  archive=archive) as f:  # fmt: skip
            got = await _get_all(f, [f"https://localhost:{port}/a", f"https://localhost:{port}/b"])
            return got, paths

    got, paths = asyncio.run(main())
    archive.close()
    assert [(r.status, r.body) for r in got] == [(200, b"<p>/a</p>"), (200, b"<p>/b</p>")]
    assert paths == ["/a", "/b"]
    archived = [r for f in sorted((tmp_path / "warc").glob("*.warc.gz")) for _, r in iter_responses(f)]
    assert [(a.url.rsplit("/", 1)[1], a.status, a.body) for a in archived] == [
        ("a", 200, b"<p>/a</p>"),
        ("b", 200, b"<p>/b</p>"),
    ]


@needs_h2
@needs_openssl
def test_http2_offered_to_an_http1_server_falls_back(
    tls_server: tuple[int, Path, type[_Page]], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert, _ = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))

    async def main() -> Response:
        async with Fetcher(settings(trust_env=True, http2=True)) as f:
            return await f.fetch(f"https://localhost:{port}/a")

    assert asyncio.run(main()).body == b"<p>/a</p>"


def test_http2_without_h2_is_a_clear_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "h2", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"fetch\.http2.*jinshan-archiver\[h2\]"):
        Fetcher(settings(http2=True))


# --- plain HTTP against small asyncio servers ---------------------------------------------------


class Server:
    """An asyncio server on 127.0.0.1 running ``serve`` per connection; counts connections and keeps
    every request head it read."""

    def __init__(self) -> None:
        self.serve: Serve = lambda r, w: asyncio.sleep(0)
        self.accepted = 0
        self.closed = 0
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
            self.closed += 1

    async def head(self, reader: asyncio.StreamReader) -> bytes:
        head = await reader.readuntil(b"\r\n\r\n")
        self.heads.append(head)
        return head

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@asynccontextmanager
async def serving(serve: Callable[[Server], Serve]) -> AsyncIterator[Server]:
    srv = Server()
    srv.serve = serve(srv)
    server = await asyncio.start_server(srv._handle, "127.0.0.1", 0)
    srv.port = server.sockets[0].getsockname()[1]
    async with server:
        yield srv


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n%s\r\n%s" % (
        len(body),
        extra,
        body,
    )


def keep_alive(srv: Server) -> Serve:
    """Answers every request on a connection with its path."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            path = (await srv.head(reader)).split(b" ")[1]
            await asyncio.sleep(0.02)  # long enough for requests sent together to overlap
            writer.write(ok(path))
            await writer.drain()

    return serve


def test_the_request_on_the_wire() -> None:
    async def main() -> bytes:
        async with serving(keep_alive) as srv, Fetcher(settings()) as f:
            await f.fetch(srv.url("/a/b.htm?x=1&y=%E9%87%91"), etag='"v1"')
            return srv.heads[0]

    head = asyncio.run(main()).lower()
    assert head.startswith(b"get /a/b.htm?x=1&y=%e9%87%91 http/1.1\r\nhost: 127.0.0.1:")
    for line in (b"user-agent: jinshan-archiver/", b"accept-encoding: gzip, deflate", b'if-none-match: "v1"'):
        assert b"\r\n" + line in head


def test_connections_are_reused_and_limited_by_the_hosts_concurrency() -> None:
    async def main() -> tuple[list[bytes], int]:
        async with serving(keep_alive) as srv, Fetcher(settings(concurrency=2)) as f:
            got = await asyncio.gather(*(f.fetch(srv.url(f"/{i}")) for i in range(10)))
            return [r.body for r in got], srv.accepted

    bodies, accepted = asyncio.run(main())
    assert bodies == [f"/{i}".encode() for i in range(10)]
    assert accepted == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    """The server answers keep-alive style, then closes the socket: each next fetch works, on a new
    connection."""

    def answer_once(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await srv.head(reader)
            writer.write(ok())  # no "Connection: close": the client believes it may reuse it
            await writer.drain()

        return serve

    async def main() -> tuple[list[int], int]:
        async with serving(answer_once) as srv, Fetcher(settings()) as f:
            statuses = []
            for i in range(3):
                statuses.append((await f.fetch(srv.url(f"/{i}"))).status)
                for _ in range(100):  # until the server's side is closed
                    if srv.closed > i:
                        break
                    await asyncio.sleep(0.01)
            return statuses, srv.accepted

    assert asyncio.run(main()) == ([200, 200, 200], 3)


def test_a_reused_connection_that_dies_before_answering_is_fetched_again() -> None:
    """The server reads the second request on a connection and closes without an answer (its
    keep-alive ran out as the request came): the fetch is tried again, on a fresh connection."""

    def one_answer_per_connection(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await srv.head(reader)
            writer.write(ok())
            await writer.drain()
            await srv.head(reader)  # and close

        return serve

    async def main() -> tuple[list[int], int]:
        async with serving(one_answer_per_connection) as srv, Fetcher(settings(retries=2)) as f:
            statuses = [(await f.fetch(srv.url(f"/{i}"))).status for i in range(3)]
            return statuses, srv.accepted

    statuses, accepted = asyncio.run(main())
    assert statuses == [200, 200, 200] and accepted == 3


def test_connection_close_and_http_1_0_are_not_reused() -> None:
    def closing(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await srv.head(reader)
            if b"/old" in head:
                writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok")
            else:
                writer.write(ok(extra=b"Connection: close\r\n"))
            await writer.drain()
            await reader.read()  # the client closes it

        return serve

    async def main() -> tuple[list[bytes], int]:
        async with serving(closing) as srv, Fetcher(settings(retries=0)) as f:
            paths = ("/new", "/new", "/old", "/old")
            got = [(await f.fetch(srv.url(f"{p}{i}"))).body for i, p in enumerate(paths)]
            return got, srv.accepted

    assert asyncio.run(main()) == ([b"ok"] * 4, 4)


def test_chunked_large_and_unchanged_bodies_on_one_connection() -> None:
    big = bytes(range(256)) * 12_000  # 3 MB: many reads, and past the point where reading pauses

    def bodies(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await srv.head(reader)
                if b"/chunked" in head:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                    )
                    for part in (b"<html>", b"x" * 5000, b"</html>"):
                        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    writer.write(b"0\r\n\r\n")
                elif b"/same" in head:
                    writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n')
                else:
                    writer.write(ok(big))
                await writer.drain()

        return serve

    async def main() -> tuple[Response, Response, Response, int]:
        async with serving(bodies) as srv, Fetcher(settings()) as f:
            chunked = await f.fetch(srv.url("/chunked"))
            large = await f.fetch(srv.url("/big"))
            same = await f.fetch(srv.url("/same"), etag='"v1"')
            return chunked, large, same, srv.accepted

    chunked, large, same, accepted = asyncio.run(main())
    assert chunked.body == b"<html>" + b"x" * 5000 + b"</html>"
    assert large.body == big
    assert same.not_modified and same.body == b"" and same.etag == '"v1"'
    assert accepted == 1


def test_a_body_cut_at_the_byte_cap_drops_its_connection_and_the_next_fetch_works() -> None:
    def endless(srv: Server) -> Serve:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                head = await srv.head(reader)
                if b"/endless" not in head:
                    writer.write(ok(b"next"))
                    await writer.drain()
                    continue
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                for _ in range(2000):  # far past the cap, then the client hangs up
                    writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
                    await writer.drain()
                return

        return serve

    async def main() -> tuple[FetchError, bytes, int]:
        async with serving(endless) as srv, Fetcher(settings(max_bytes=64_000, concurrency=1)) as f:
            try:
                await f.fetch(srv.url("/endless"))
            except FetchError as exc:
                error = exc
            else:
                raise AssertionError("no error")
            after = await f.fetch(srv.url("/next"))
            return error, after.body, srv.accepted

    error, after, accepted = asyncio.run(main())
    assert isinstance(error, PermanentFetchError) and error.reason == "too_large"
    assert after == b"next" and accepted == 2


def stalling(srv: Server) -> Serve:
    """``/stall``: the head, then nothing; ``/drip``: a byte every 0.1 s; else an answer at once."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await srv.head(reader)
            if b"/stall" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\nx")
                await writer.drain()
                await reader.read()  # ends when the client drops the connection
                return
            if b"/drip" in head:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 3\r\n\r\n")
                for _ in range(3):
                    await asyncio.sleep(0.1)
                    writer.write(b"x")
                    await writer.drain()
                continue
            writer.write(ok())
            await writer.drain()

    return serve


def test_a_stalled_read_times_out_and_gives_its_connection_back() -> None:
    """No byte within the timeout: ``timeout``, the half-used connection dropped and its place in
    the pool free for the next request. Bytes that keep coming within the timeout are read."""

    async def main() -> tuple[FetchError, bytes, bytes, int, int]:
        async with serving(stalling) as srv, Fetcher(settings(timeout_s=1.0, retries=0, concurrency=1)) as f:
            dripped = (await f.fetch(srv.url("/drip"))).body
            try:
                await f.fetch(srv.url("/stall"))
            except FetchError as exc:
                error = exc
            else:
                raise AssertionError("no timeout")
            after = (await f.fetch(srv.url("/next"))).body
            return error, dripped, after, srv.accepted, srv.closed

    error, dripped, after, accepted, closed = asyncio.run(main())
    assert isinstance(error, TransientFetchError) and error.reason == "timeout"
    assert dripped == b"xxx" and after == b"ok"
    assert accepted == 2 and closed >= 1  # the stalled connection was dropped, a new one opened


def test_proxies_from_the_environment_only_with_trust_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``fetch.trust_env`` a request goes through the proxy HTTP_PROXY names (absolute form on
    the wire); without it the same environment is ignored."""

    async def main(trust_env: bool) -> tuple[list[bytes], list[bytes]]:
        async with serving(keep_alive) as proxy, serving(keep_alive) as site:
            monkeypatch.setenv("HTTP_PROXY", proxy.url())
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
            async with Fetcher(settings(trust_env=trust_env)) as f:
                await f.fetch(site.url("/page"))
            return proxy.heads, site.heads

    via_proxy, direct = asyncio.run(main(True))
    assert len(via_proxy) == 1 and not direct
    assert via_proxy[0].startswith(b"GET http://127.0.0.1:")
    assert via_proxy[0].split(b" ")[1].endswith(b"/page")
    via_proxy, direct = asyncio.run(main(False))
    assert not via_proxy and len(direct) == 1 and direct[0].startswith(b"GET /page ")


def test_refused_connections_and_unknown_schemes() -> None:
    async def refused() -> None:
        async with serving(keep_alive) as srv:
            url = srv.url()
        async with Fetcher(settings(retries=0)) as f:
            await f.fetch(url)  # the server is gone

    with pytest.raises(TransientFetchError) as err:
        asyncio.run(refused())
    assert err.value.reason == "connect_error"

    async def ftp() -> None:
        async with Fetcher(settings()) as f:
            await f.fetch("ftp://127.0.0.1/x")

    with pytest.raises(PermanentFetchError) as perm:
        asyncio.run(ftp())
    assert perm.value.reason == "refused_scheme"
