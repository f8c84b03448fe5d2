"""The backfill: walk the past by date, from the site's lists and the e-paper's issues, then drain.

Resumable by construction: discovered articles go to the shared frontier, so a re-run (after a
kill -9 too) skips every article already done and only re-reads list pages and issue pages, which
are cheap beside the articles. May run beside the daemon on the same database: each claims its own
URLs, and the backfill drains only URLs published within its date range.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin

from service.crawl.discover import BackfillPaging, days, walk_issue, walk_lists
from service.crawl.pipeline import Crawl
from service.crawl.runner import drain, release_dead_leases

log = logging.getLogger(__name__)

SOURCES = ("site", "epaper", "all")


@dataclass(frozen=True, slots=True)
class BackfillRange:
    since: date
    until: date
    source: str = "all"
    #: False for a helper process that only drains what the main backfill discovered
    discover: bool = True


def start_urls(crawl: Crawl) -> list[str]:
    """The configured start URLs, absolute (relative ones are resolved against ``site.base_url``)."""
    return [urljoin(crawl.settings.site.base_url, u) for u in crawl.settings.site.start_urls]


async def discover_site(crawl: Crawl, span: BackfillRange, stop: asyncio.Event) -> None:
    """Page back through every start list, and the channel lists linked from them, until their
    articles are older than ``since``."""
    walk = await walk_lists(start_urls(crawl), settings=crawl.settings, fetcher=crawl.fetcher,
                            frontier=crawl.frontier, paging=BackfillPaging(span.since))  # fmt: skip
    crawl.count("list_pages", walk.pages)
    crawl.count("discovered", walk.new)
    crawl.count("list_failed", walk.failed)


async def discover_epaper(crawl: Crawl, span: BackfillRange, stop: asyncio.Event) -> None:
    """Each paper's issues from ``until`` back to ``since``, newest first. A paper is left once it
    had an issue and then none for ``epaper.max_missing_days`` days in a row: its archive ends there
    (a backfill from 2010 does not ask for thousands of issues the e-paper never had)."""
    limit = crawl.settings.epaper.max_missing_days
    papers = {paper: _Run() for paper in crawl.settings.epaper.papers}
    for day in days(span.since, span.until):
        for paper, run in list(papers.items()):
            if stop.is_set():
                return
            walk = await walk_issue(
                crawl.settings, paper, day, fetcher=crawl.fetcher, frontier=crawl.frontier
            )
            crawl.count("epaper_pages", walk.pages)
            crawl.count("discovered", walk.new)
            crawl.count("epaper_failed", walk.failed)
            run.found, run.missing = (run.found, run.missing + 1) if walk.missing else (True, 0)
            if run.found and run.missing >= limit:
                log.info("e-paper %s: no issue for %d days before %s; its archive ends there", paper, limit,
                         day + timedelta(days=limit))  # fmt: skip
                del papers[paper]
        if not papers:
            return


@dataclass
class _Run:
    found: bool = False
    missing: int = 0


async def run_backfill(
    crawl: Crawl,
    span: BackfillRange,
    *,
    stop: asyncio.Event,
    on_progress: Callable[[Crawl], None] | None = None,
    after_discovery: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Discover, then drain the range; progress reported through ``on_progress`` every second.
    ``after_discovery`` runs between the two (the command starts its helper processes there)."""
    released = release_dead_leases(crawl)
    if released:
        log.info("released %d URLs leased by processes that are gone", released)
    ticker = asyncio.create_task(_tick(crawl, on_progress, stop)) if on_progress else None
    try:
        if span.discover and span.source in ("site", "all"):
            await discover_site(crawl, span, stop)
        if span.discover and span.source in ("epaper", "all") and crawl.settings.epaper.enabled:
            await discover_epaper(crawl, span, stop)
        if after_discovery is not None:
            await after_discovery()
        await drain(crawl, stop=stop, published_between=(span.since, span.until))
        crawl.store.refresh_search()
    finally:
        if ticker:
            ticker.cancel()
        if on_progress:
            on_progress(crawl)
        if crawl.run_id is not None:
            crawl.store.update_run(crawl.run_id, dict(crawl.stats.counts))


async def _tick(crawl: Crawl, on_progress: Callable[[Crawl], None], stop: asyncio.Event) -> None:
    last_saved = datetime.now(UTC)
    while not stop.is_set():
        await asyncio.sleep(1)
        on_progress(crawl)
        if crawl.run_id is not None and (datetime.now(UTC) - last_saved).total_seconds() >= 10:
            crawl.store.update_run(crawl.run_id, dict(crawl.stats.counts))
            last_saved = datetime.now(UTC)
