"""The daemon's web listener: ``/healthz`` and ``/metrics``, and the archive view beside them.

One ASGI app under uvicorn, run inside the daemon's event loop. ``/healthz`` answers 200 while the
last cycle recorded in the database succeeded recently (or the daemon is starting, or is a healthy
standby) and 503 with the reason otherwise, within ``HEALTH_TIMEOUT_S`` even while the database
hangs; ``/metrics`` is the Prometheus text format. Both stay outside any authentication of the
archive view (monitoring scrapes them). The daemon keeps its own signal handlers: uvicorn's are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from service.settings import redacted
from service.settings.schema import listen_address

log = logging.getLogger(__name__)

#: a health check that takes longer than this answers 503 (a client's probe must not hang)
HEALTH_TIMEOUT_S = 1.5
#: (healthy, reason) — computed by the daemon at request time, on the event loop: it must not
#: block it (the daemon probes the database on a thread of its own, see ``AsyncStore.probe``)
Health = Callable[[], Awaitable[tuple[bool, str]]]


def health_routes(health: Health, metrics: Callable[[], bytes]) -> list[Route]:
    """``/healthz`` and ``/metrics`` (GET and HEAD; other methods get 405)."""

    async def healthz(_: Request) -> Response:
        try:  # it may read the database, which may hang while it goes away
            ok, reason = await asyncio.wait_for(health(), HEALTH_TIMEOUT_S)
        except TimeoutError:
            ok, reason = False, "unhealthy: the database did not answer the health check in time"
        return PlainTextResponse(redacted(reason) + "\n", status_code=200 if ok else 503)

    def metrics_page(_: Request) -> Response:
        return Response(metrics(), media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/metrics", metrics_page)]


def bind(listen: str) -> socket.socket:
    """A listening TCP socket on ``HOST:PORT`` (port 0: any free one); ``OSError`` when taken,
    ``ValueError`` (saying why) when ``listen`` is not an address."""
    host, port = listen_address(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handling: the daemon decides when the listener stops."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn before 0.29
        return


class WebServer:
    """``/healthz``, ``/metrics`` and, when given, the archive view (``app``) on ``listen``."""

    def __init__(
        self, listen: str, *, health: Health, metrics: Callable[[], bytes], app: ASGIApp | None = None
    ) -> None:
        self.listen = listen
        self.host, _, port = listen.rpartition(":")
        self.port = int(port)
        routes: list[Route | Mount] = [*health_routes(health, metrics)]
        if app is not None:
            routes.append(Mount("/", app=app))
        self.app = Starlette(routes=routes)
        self._server: _QuietServer | None = None
        #: the listener's task while it runs (the daemon's stop does not wait for it as a job)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Listen; False (logged) when the address is taken, so a standby on the same host still runs."""
        try:
            sock = bind(self.listen)
        except OSError as exc:
            log.error(
                "web: cannot listen on %s (%s); /healthz and /metrics are off", self.listen, exc.strerror
            )
            return False
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = _QuietServer(config)
        self.task = asyncio.create_task(self._server.serve(sockets=[sock]), name="jinshan-web")
        log.info(
            "web: /healthz, /metrics and the archive on http://%s:%s/", self.host or "127.0.0.1", self.port
        )
        return True

    async def stop(self) -> None:
        if self._server is not None and self.task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def serve_forever(app: ASGIApp, sock: socket.socket) -> None:
    """Run ``app`` on the bound ``sock`` until SIGINT/SIGTERM (uvicorn's own handling)."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])
