"""A small HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose, for fetch tests and benchmarks.

Raw asyncio streams rather than http.server: a fault has to be exact (a reset after N body bytes,
a body shorter than its Content-Length, a header sent and then silence), and keep-alive has to be
cheap enough that the benchmark measures the client, not the server.

In tests, run it in a background thread (``with FaultServer() as srv: srv.url("/status/500")``).
For the benchmark, run it as its own process: ``python -m tests.support.faultserver --port 0``
prints ``PORT <n>`` and serves until killed.

Routes (all GET; ``?q=`` parameters in brackets):
  /robots.txt                 ``robots_txt`` with ``robots_status`` (404 when robots_txt is None)
  /page/<any>                 200 HTML (keep-alive)                   /bench  the benchmark page
  /status/<code>              that status, small HTML body
  /retry-after/<code>         [after=seconds, date=1 for the HTTP-date form]
  /flaky/<key>                first [fail=N] requests answer [code=500], then 200
  /etag                       ETag "v1" + Last-Modified; 304 when If-None-Match / If-Modified-Since match
  /slow                       [delay=s] before the status line     /drip  headers, then one byte per [delay]
  /reset                      headers and half the body, then a TCP reset
  /short                      Content-Length 1000, 100 bytes sent, connection closed
  /loop/a, /loop/b            redirect to each other                /chain/<n>  n redirects, then 200
  /redirect                   302 to [to=URL]                       /foreign  302 to another host
  /big                        [size=N] bytes of HTML                /bomb  gzip of [size=N] zeros
  /gzip                       gzip-encoded HTML                     /chunked  chunked HTML
  /wrong-charset              GBK bytes declared as UTF-8           /pdf  application/pdf
  /blocked                    200 page with a WAF marker ("访问验证")
Anything else: 404. ``hits`` counts requests per path, ``connections`` accepted connections;
``headers_seen`` keeps the last request's headers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gzip
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, urlsplit

HTML = (
    "<!doctype html><html><head><meta charset='utf-8'><title>金山网 测试</title></head>"
    "<body><h1>镇江新闻</h1><p>金山网讯 1月28日，一条测试新闻。</p></body></html>"
).encode()
BENCH_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>基准页面</title></head><body>"
    + "<p>金山网讯 镇江市项目攻坚暨产业强市大会召开，这是一段用于基准测试的正文。</p>" * 120
    + "</body></html>"
).encode()
BLOCK_MARKER = "访问验证"
LAST_MODIFIED = "Wed, 21 Oct 2025 07:28:00 GMT"


@dataclass
class Request:
    """What the server parsed from one request."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Handler = Callable[["Request", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool]]


def _head(status: int, headers: list[tuple[str, str]], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(
    status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None, ctype: str = "text/html"
) -> bytes:
    """A complete response with Content-Length; ``ctype`` '' sends no Content-Type."""
    hdrs = list(headers or [])
    if ctype:
        hdrs.append(
            ("Content-Type", ctype if ";" in ctype or "html" not in ctype else f"{ctype}; charset=utf-8")
        )
    return _head(status, hdrs, len(body)) + body


@functools.lru_cache(maxsize=4)
def _bomb(size: int) -> bytes:
    """gzip of ``size`` zeros, compressed once: a busy machine takes a second for 100 MB."""
    return gzip.compress(b"\0" * size, compresslevel=1)


class FaultServer:
    """The server: ``start()`` in a daemon thread (or ``serve_forever()`` in a process)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.robots_txt: str | None = None
        self.robots_status = 200
        self.robots_delay = 0.0
        self.hits: Counter[str] = Counter()
        self.connections = 0
        self.headers_seen: dict[str, str] = {}
        self.extra: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._flaky: Counter[str] = Counter()
        self._ready = threading.Event()

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> FaultServer:
        _bomb(50_000_000)  # the default bomb, ready before any request times out waiting for it
        self._thread = threading.Thread(target=self._run, name="faultserver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        """Close the listener, cancel open connections, then stop the loop: no stray tasks."""
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        asyncio.get_running_loop().stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, self.host, self.port))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def serve_forever(self) -> None:
        """Serve in the current event loop until cancelled (the benchmark's server process)."""
        server = await asyncio.start_server(self._serve, self.host, self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        print(f"PORT {self.port}", flush=True)
        async with server:
            await server.serve_forever()

    # --- connection loop ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                req = _parse(head)
                self.hits[req.path] += 1
                self.headers_seen = req.headers
                keep = await self._dispatch(req, reader, writer)
                if not keep or req.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            if not writer.transport.is_closing():
                writer.close()

    async def _dispatch(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer ``req``; False when the connection must not be reused."""
        handler = self.extra.get(req.path)
        if handler is not None:
            return await handler(req, reader, writer)
        head, _, rest = req.path[1:].partition("/")
        simple = self._simple(head, rest, req)
        if simple is not None:
            writer.write(simple)
            await writer.drain()
            return True
        return await self._fault(head, req, writer)

    def _simple(self, head: str, rest: str, req: Request) -> bytes | None:
        """Well-behaved answers, or None when the route is a fault."""
        q = req.query
        if head == "bench":
            return response(200, BENCH_PAGE)
        if head == "page":
            return response(200, HTML)
        if head == "robots.txt":
            if self.robots_txt is None:
                return response(404, b"no robots")
            return response(self.robots_status, self.robots_txt.encode(), ctype="text/plain")
        if head == "status":
            return response(int(rest), b"<html>status %s</html>" % rest.encode())
        if head == "retry-after":
            after = int(q.get("after", "1"))
            value = formatdate(time.time() + after, usegmt=True) if q.get("date") else str(after)
            return response(int(rest), b"busy", [("Retry-After", value)])
        if head == "flaky":
            self._flaky[rest] += 1
            if self._flaky[rest] <= int(q.get("fail", "1")):
                return response(int(q.get("code", "500")), b"down")
            return response(200, HTML)
        if head == "etag":
            return self._etag(req)
        if head == "loop":
            return response(302, b"", [("Location", "/loop/b" if rest == "a" else "/loop/a")])
        if head == "chain":
            n = int(rest)
            return response(200, HTML) if n <= 0 else response(301, b"", [("Location", f"/chain/{n - 1}")])
        if head == "redirect":
            return response(302, b"", [("Location", q.get("to", "/page/x"))])
        if head == "foreign":
            return response(302, b"", [("Location", "http://evil.example.org/steal")])
        if head == "big":
            return response(200, b"<html>" + b"x" * int(q.get("size", "2000000")) + b"</html>")
        if head == "bomb":
            return response(200, _bomb(int(q.get("size", "50000000"))), [("Content-Encoding", "gzip")])
        if head == "gzip":
            return response(200, gzip.compress(HTML), [("Content-Encoding", "gzip")])
        if head == "wrong-charset":
            body = "<html><body><p>镇江日报 金山网讯</p></body></html>".encode("gbk")
            return response(200, body, ctype="text/html; charset=utf-8")
        if head == "pdf":
            return response(200, b"%PDF-1.4 ...", ctype="application/pdf")
        if head == "blocked":
            return response(200, f"<html><body>{BLOCK_MARKER}：请完成验证</body></html>".encode())
        return None

    def _etag(self, req: Request) -> bytes:
        tag = '"v1"'
        hdrs = [("ETag", tag), ("Last-Modified", LAST_MODIFIED)]
        if req.headers.get("if-none-match") == tag or req.headers.get("if-modified-since") == LAST_MODIFIED:
            return _head(304, hdrs, None)
        return response(200, HTML, hdrs)

    async def _fault(self, head: str, req: Request, writer: asyncio.StreamWriter) -> bool:
        q = req.query
        if head == "slow":
            await asyncio.sleep(float(q.get("delay", "5")))
            writer.write(response(200, HTML))
        elif head == "drip":
            writer.write(_head(200, [("Content-Type", "text/html")], len(HTML)))
            for i in range(len(HTML)):
                writer.write(HTML[i : i + 1])
                await writer.drain()
                await asyncio.sleep(float(q.get("delay", "0.5")))
        elif head == "reset":
            writer.write(_head(200, [("Content-Type", "text/html")], 100_000) + b"x" * 50_000)
            await writer.drain()
            _reset(writer)
            return False
        elif head == "short":
            writer.write(_head(200, [("Content-Type", "text/html")], 1000) + b"y" * 100)
            await writer.drain()
            writer.close()
            return False
        elif head == "chunked":
            writer.write(_head(200, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")], None))
            for part in (HTML[:40], HTML[40:]):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(response(404, b"<html>not found</html>"))
        await writer.drain()
        return True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST instead of FIN: SO_LINGER with a zero timeout, then abort."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _parse(head: bytes) -> Request:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = ([*lines[0].split(" "), "", ""])[:3]
    parts = urlsplit(target)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return Request(method, parts.path, dict(parse_qsl(parts.query)), headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(FaultServer(port=args.port).serve_forever())


if __name__ == "__main__":
    main()


def fast_settings(*, hosts: tuple[str, ...] = ("127.0.0.1",), archive_dir: str = "", **fetch: object) -> Any:
    """Settings for tests: ``hosts`` added to allowed_hosts, tiny timeouts and backoffs, no real rate.

    Keyword arguments override keys of ``[fetch]``.
    """
    from service.settings import load_settings

    base: dict[str, object] = {
        "requests_per_second": 1000.0,
        "concurrency": 8,
        "connect_timeout_s": 1.0,
        "timeout_s": 1.0,
        "retries": 2,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.2,
        "robots_unreachable_hold_s": 60,
    }
    base.update(fetch)
    overrides: dict[str, Any] = {
        "site": {"allowed_hosts": ["www.jsw.com.cn", "jsw.com.cn", *hosts]},
        "fetch": base,
    }
    if archive_dir:
        overrides["archive"] = {"path": archive_dir}
    return load_settings(environ={}, overrides=overrides)
