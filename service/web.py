"""``/healthz`` and ``/metrics`` over plain asyncio: two read-only endpoints need no web framework.

``/healthz`` answers 200 while the last cycle recorded in the database succeeded recently (or the
daemon is starting, or is a healthy standby) and 503 with the reason otherwise; ``/metrics`` is the Prometheus text format.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

#: a health check that takes longer than this answers 503 (a client's probe must not hang)
HEALTH_TIMEOUT_S = 1.5
#: (healthy, reason) — computed by the daemon at request time
Health = Callable[[], tuple[bool, str]]


class WebServer:
    def __init__(self, listen: str, *, health: Health, metrics: Callable[[], bytes]) -> None:
        host, _, port = listen.rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.health, self.metrics = health, metrics
        self._server: asyncio.Server | None = None

    async def start(self) -> bool:
        """Listen; False (logged) when the address is taken, so a standby on the same host still runs."""
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            log.error(
                "web: cannot listen on %s:%s (%s); /healthz and /metrics are off",
                self.host,
                self.port,
                exc.strerror,
            )
            return False
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("web: /healthz and /metrics on http://%s:%s/", self.host, self.port)
        return True

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), timeout=5)
            while (line := await asyncio.wait_for(reader.readline(), timeout=5)) not in (b"\r\n", b"\n", b""):
                del line
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if parts[:1] != ["GET"]:
                status, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
            elif path == "/healthz":
                try:  # it may read the database, which may hang while it goes away
                    ok, reason = await asyncio.wait_for(asyncio.to_thread(self.health), HEALTH_TIMEOUT_S)
                except TimeoutError:
                    ok, reason = False, "unhealthy: the database did not answer the health check in time"
                status = "200 OK" if ok else "503 Service Unavailable"
                ctype, body = "text/plain; charset=utf-8", (reason + "\n").encode()
            elif path == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, self.metrics()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
            head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
