"""Building the pieces of a crawl from settings: store, archive, fetcher, metrics.

One place, so that the daemon, the backfill and ``parse URL`` are wired the same way and the
crawl code receives its collaborators instead of constructing them (tests pass fakes or a replica).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from service.crawl.context import CrawlContext
from service.crawl.drain import worker_id
from service.crawl.metrics import Metrics
from service.crawl.schedule import SweepBudget
from service.extract import block_marker
from service.fetch.archive import WarcArchive
from service.fetch.client import Fetcher
from service.settings import Settings
from service.store import AsyncStore, Grant
from service.store import open_store as open_store  # re-exported: callers opened a Store from here

log = logging.getLogger(__name__)


class StoreBudget:
    """The store's shared politeness (``Store.reserve_request`` …) as the fetcher's ``SharedBudget``,
    with this process's rate, cap and name. ``reserve``/``release`` are called from the fetcher's
    worker threads and wait for the store's writer thread; ``hold``/``set_crawl_delay`` are called
    on the event loop and only queue their write (the fetcher keeps its own hold meanwhile)."""

    def __init__(self, store: AsyncStore, settings: Settings, *, holder: str) -> None:
        cfg = settings.fetch
        self.store, self.holder = store, holder
        self.interval, self.concurrency = 1.0 / cfg.requests_per_second, cfg.concurrency
        #: a request whose process died frees its place after this long
        self.lease_s = cfg.timeout_s + cfg.connect_timeout_s + 30

    def reserve(self, host: str, *, span_s: float, places: int, claim: int | None) -> Grant:
        return self.store.reserve_request(host, interval=self.interval, concurrency=self.concurrency,
                                          holder=self.holder, lease_s=self.lease_s, span_s=span_s,
                                          places=places, claim=claim)  # fmt: skip

    def finish(self, host: str, tokens: tuple[int, ...], *, end: float, resume_at: float) -> None:
        self.store.end_requests(host, tokens, end=end, resume_at=resume_at)

    def hold(self, host: str, until: float, reason: str) -> None:
        self.store.write_soon(self.store.sync.hold_host, host, until=until, reason=reason)

    def set_crawl_delay(self, host: str, delay: float) -> None:
        self.store.write_soon(self.store.sync.set_crawl_delay, host, delay)


def make_fetcher(
    settings: Settings, archive: WarcArchive | None, *, store: AsyncStore | None = None
) -> Fetcher:
    """The fetcher; with ``store`` (and ``fetch.shared_politeness``) polite together with every
    other process on the same database."""
    profile = settings.profile
    shared = (
        StoreBudget(store, settings, holder=worker_id())
        if store and settings.fetch.shared_politeness
        else None
    )
    return Fetcher(
        settings,
        archive=archive,
        block_check=lambda body, ctype: block_marker(body, ctype, profile),
        budget=shared,
    )


@asynccontextmanager
async def open_crawl(
    settings: Settings, *, store: AsyncStore | None = None, metrics: Metrics | None = None
) -> AsyncIterator[CrawlContext]:
    """A ready ``CrawlContext`` (runs are made from it); on exit the fetcher is closed and the
    current WARC file finished, and the store closed when it was opened here."""
    owned = store is None
    store = store or await AsyncStore.open(settings)
    try:
        archive = WarcArchive.from_settings(settings)
        fetcher = make_fetcher(settings, archive, store=store)
    except BaseException:
        if owned:
            await store.aclose()
        raise
    try:
        yield CrawlContext(settings=settings, store=store, fetcher=fetcher, metrics=metrics or Metrics(),
                           worker=worker_id(), sweep=SweepBudget.from_settings(settings))  # fmt: skip
    finally:
        await fetcher.aclose()
        if archive is not None:
            archive.close()
        if owned:
            await store.aclose()
