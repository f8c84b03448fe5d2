"""The web face of the archiver: the daemon's ``/healthz`` and ``/metrics`` (``server``), and the
read-only archive view (``app``: pages, replay, JSON API, Atom feeds) of ``jinshan serve``.

Place in the flow: a reader at the end of it. Every database read goes through
``service.store.browse.Reader``; archived bytes come from ``service.fetch.archive``.
"""

from __future__ import annotations

from service.app.web.server import Health, WebServer

__all__ = ["Health", "WebServer"]
