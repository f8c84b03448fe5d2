"""``ReplicaServer``: the replica over real HTTP/1.1 on 127.0.0.1, in a background thread.

Keep-alive, ETag and Last-Modified on every page, 304 for matching ``If-None-Match`` (or, without
it, ``If-Modified-Since``), faults from faults.py, and a bounded in-memory log of every request for
assertions. Controls (edit, delete, publish, faults) are methods here for tests in the same
process, and the same operations are served under ``/__control/`` (control.py) for a server run as
a subprocess. Control requests are not logged: the log is what a crawler did.

Each response is written with a single ``send`` (headers and body together) and ``TCP_NODELAY``,
because two small writes on a keep-alive connection meet Nagle's algorithm and delayed ACKs and
cost 40 ms each.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.e2e.replica import control
from tests.e2e.replica.faults import Fault, Faults
from tests.e2e.replica.replica import Replica
from tests.e2e.replica.site import Page, Site


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the server saw it (``status`` is what it answered; ``fault`` the rule kind)."""

    method: str
    path: str
    status: int
    if_none_match: str | None
    if_modified_since: str | None
    user_agent: str | None
    fault: str | None
    at: float
    #: requests being answered when this one arrived, itself included
    in_flight: int = 1

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    app: ReplicaServer


class ReplicaServer:
    """Serve ``replica`` on ``host``:``port`` (0: a free port) until ``stop``; also a context manager."""

    def __init__(
        self,
        replica: Replica,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_size: int = 100_000,
        fault_seed: int = 0,
        cache_size: int = 2048,
    ) -> None:
        self.replica = replica
        self.site = Site(replica, cache_size=cache_size)
        self.faults = Faults(fault_seed)
        self._log: deque[RequestRecord] = deque(maxlen=log_size)
        self._log_lock = threading.Lock()
        self._open = 0
        self.stopping = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler, bind_and_activate=False)
        self._httpd.app = self
        self._thread: threading.Thread | None = None
        self._host, self._port = host, port

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ReplicaServer:
        """Bind, point the replica's URLs at this server, and serve in a daemon thread."""
        self._httpd.allow_reuse_address = True
        self._httpd.server_bind()
        self._httpd.server_activate()
        self.replica.base_url = self.base_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="replica-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow responses in progress are cut short."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    # -- request log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first (bounded: the oldest are dropped first)."""
        with self._log_lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._log.clear()

    def record(self, rec: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(rec)

    # -- controls -------------------------------------------------------------------------------

    def edit(
        self, url: str, *, title: str | None = None, paragraphs: list[str] | None = None
    ) -> dict[str, Any]:
        """Change an article (see ``Replica.edit``); returns its new ground truth."""
        return self.replica.edit(url, title=title, paragraphs=paragraphs)

    def delete(self, url: str) -> None:
        """The article answers 404 from now on and leaves every list."""
        self.replica.delete(url)

    def restore(self, url: str) -> None:
        """A deleted article answers again, as it was, and is listed again."""
        self.replica.restore(url)

    def publish(self, n: int = 1, *, at: datetime | None = None) -> list[str]:
        """``n`` new articles at the top of the lists; returns their URLs."""
        return self.replica.publish(n, at=at)

    def fault(self, **spec: Any) -> Fault:
        """Add a fault rule (fields of ``faults.Fault``: kind, status, retry_after, delay, path,
        pattern, times, share)."""
        return self.faults.add(**spec)

    def clear_faults(self) -> None:
        self.faults.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.20.1"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: the request log is in memory (``ReplicaServer.requests``)."""

    def do_GET(self) -> None:
        self._serve(head=False)

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith(control.PREFIX):
            self._write(405, [], b"", head=False)
            return
        length = int(self.headers.get("Content-Length") or 0)
        self._control(path, self.rfile.read(length) if length else b"")

    def _control(self, path: str, body: bytes) -> None:
        status, payload = control.handle(self.server.app, self.command, path, urlsplit(self.path).query, body)
        self._write(status, [("Content-Type", "application/json")], payload, head=False)

    def _serve(self, *, head: bool) -> None:
        self.arrived = time.time()  # before the page is built: the log says when the request came
        app = self.server.app
        path = urlsplit(self.path).path
        if path.startswith(control.PREFIX):
            self._control(path, b"")
            return
        with app._log_lock:
            app._open += 1
        self.counted = True
        try:
            self._answer(app, path, head=head)
        finally:
            self._answered()

    def _answered(self) -> None:
        """The request stops counting as in flight once its answer starts to go out (the client may
        send its next one the moment it has read it, before this thread gets to run again)."""
        if getattr(self, "counted", False):
            self.counted = False
            with self.server.app._log_lock:
                self.server.app._open -= 1

    def _answer(self, app: ReplicaServer, path: str, *, head: bool) -> None:
        rule = app.faults.pick(path)
        page = app.site.resolve(path)
        status = page.status
        if rule is not None and rule.kind == "status":
            status = rule.status
        elif rule is None and status == 200 and self._not_modified(page):
            status = 304
        self._log(status, rule)  # on arrival, so the log keeps the order requests came in
        if rule is not None and rule.kind == "slow" and app.stopping.wait(rule.delay):
            self.close_connection = True
            return
        if rule is not None and rule.kind in ("reset", "truncate"):
            self._cut(page, reset=rule.kind == "reset")
        elif rule is not None and rule.kind == "poison":
            body = (
                b"<html><head><title>\xe9\x87\x91</title></head><body>"
                + b"<div>\xe9\x87\x91\xe5\xb1\xb1\n" * rule.depth
            )
            self._write(200, [("Content-Type", "text/html; charset=utf-8")], body, head=head)
        elif rule is not None and rule.kind == "captcha":
            body = "<html><head><title>安全验证</title></head><body><p>请完成安全验证后继续访问</p></body></html>"
            self._write(200, [("Content-Type", "text/html; charset=utf-8")], body.encode(), head=head)
        elif rule is not None and rule.kind == "status":
            extra = [("Retry-After", f"{rule.retry_after:g}")] if rule.retry_after is not None else []
            body = f"<html><body><h1>{status} {_reason(status)}</h1></body></html>".encode()
            self._write(status, [("Content-Type", "text/html"), *extra], body, head=head)
        else:
            self._write(status, _page_headers(page), b"" if status == 304 else page.body, head=head)

    def _not_modified(self, page: Page) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return "*" in tags or page.etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is None or page.last_modified is None:
            return False
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
        return int(page.last_modified.timestamp()) <= since.timestamp()

    def _log(self, status: int, rule: Fault | None) -> None:
        h = self.headers
        self.server.app.record(
            RequestRecord(
                self.command,
                self.path,
                status,
                h.get("If-None-Match"),
                h.get("If-Modified-Since"),
                h.get("User-Agent"),
                rule.kind if rule else None,
                getattr(self, "arrived", None) or time.time(),
                self.server.app._open,
            )
        )

    def _write(self, status: int, headers: list[tuple[str, str]], body: bytes, *, head: bool) -> None:
        self._answered()
        lines = [
            f"HTTP/1.1 {status} {_reason(status)}",
            f"Server: {self.server_version}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        lines += [f"{k}: {v}" for k, v in headers]
        lines.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            lines.append("Connection: close")
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else body))

    def _cut(self, page: Page, *, reset: bool) -> None:
        """Announce the whole body, send half of it, then drop the connection."""
        head = f"HTTP/1.1 200 OK\r\nContent-Type: {page.content_type}\r\nContent-Length: {len(page.body)}\r\n\r\n"
        self.wfile.write(head.encode("latin-1") + page.body[: len(page.body) // 2])
        self.wfile.flush()
        self.close_connection = True
        if reset:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        else:
            self.connection.shutdown(socket.SHUT_WR)


def _page_headers(page: Page) -> list[tuple[str, str]]:
    out = [("Content-Type", page.content_type)]
    if page.etag:
        out.append(("ETag", page.etag))
    if page.last_modified is not None:
        out.append(("Last-Modified", format_datetime(page.last_modified.astimezone(UTC), usegmt=True)))
    if page.location:
        out.append(("Location", page.location))
    return out


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
