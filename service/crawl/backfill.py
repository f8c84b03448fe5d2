"""The backfill: walk the past by date, from the site's lists and the e-paper's issues, then drain.

Resumable: discovered articles go to the shared frontier, so a re-run (after a kill -9 too) skips
every article already done; and the discovery itself (hours of list pages on the real site) records
where it stands in its run (``Discovery``, saved every few seconds), so a re-run of an interrupted
backfill over the same range goes on from the list pages and the issue day where it stopped.
Discovery and fetching stop at once on SIGINT/SIGTERM (the URLs in flight go back to the frontier). May run beside the daemon on the same database: each
claims its own URLs, and the backfill drains only URLs published within its date range.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from service.crawl.captures import index_archive
from service.crawl.context import CrawlRun
from service.crawl.discover import BackfillPaging, WalkState, days, start_urls, walk_issue, walk_lists
from service.crawl.drain import drain, release_dead_leases
from service.errors import StoreError
from service.store import AsyncStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackfillRange:
    since: date
    until: date
    source: str = "all"
    #: False for a helper process that only drains what the main backfill discovered
    discover: bool = True


@dataclass
class Discovery:
    """Where the discovery of one backfill stands: the list walk, and the next e-paper day to walk
    (days go newest first; None: not begun). Kept in the run's params under "discovery"."""

    lists: WalkState = field(default_factory=WalkState)
    epaper_next: date | None = None
    epaper_days: int = 0
    site_done: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"lists": self.lists.to_json(), "site_done": self.site_done, "epaper_days": self.epaper_days,
                "epaper_next": self.epaper_next.isoformat() if self.epaper_next else None}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Discovery:
        nxt = data.get("epaper_next")
        return cls(lists=WalkState.from_json(data.get("lists") or {}), site_done=bool(data.get("site_done")),
                   epaper_days=int(data.get("epaper_days") or 0),
                   epaper_next=date.fromisoformat(nxt) if nxt else None)  # fmt: skip

    def line(self) -> str:
        """Progress in words: list pages read, the date reached, URLs found, issue days walked."""
        reached = self.lists.reached.isoformat() if self.lists.reached else "-"
        return (f"list pages {self.lists.pages}, reached {reached}, found {self.lists.found}"
                f"; e-paper days {self.epaper_days}")  # fmt: skip


async def resume_point(store: AsyncStore, params: dict[str, Any]) -> Discovery:
    """Where the last backfill over the same range stopped, when it did not finish (interrupted,
    failed, or killed while "running"); a fresh ``Discovery`` otherwise."""
    for run in await store.last_runs(50):
        if run.get("kind") != "backfill":
            continue
        mine = run.get("params") or {}
        if any(mine.get(k) != v for k, v in params.items()):
            continue
        if run.get("status") == "ok" or "discovery" not in mine:
            return Discovery()
        return Discovery.from_json(mine["discovery"])
    return Discovery()


async def discover_site(crawl: CrawlRun, span: BackfillRange, found: Discovery) -> None:
    """Page back through every start list, and the channel lists linked from them, until their
    articles are older than ``since``; from where ``found`` says an earlier run stopped."""
    if found.site_done:
        return
    before = found.lists.found
    walk = await walk_lists(start_urls(crawl.settings), settings=crawl.settings, fetcher=crawl.fetcher,
                            frontier=crawl.frontier, paging=BackfillPaging(span.since), state=found.lists)  # fmt: skip
    crawl.count("list_pages", walk.pages)
    crawl.count("discovered", found.lists.found - before)
    crawl.count("list_failed", walk.failed)
    found.site_done = True


async def discover_epaper(crawl: CrawlRun, span: BackfillRange, found: Discovery) -> None:
    """Each paper's issues from ``until`` back to ``since``, newest first, from where ``found`` says
    an earlier run stopped. A paper is left once it had an issue and then none for
    ``epaper.max_missing_days`` days in a row: its archive ends there (a backfill from 2010 does not
    ask for thousands of issues the e-paper never had)."""
    limit = crawl.settings.epaper.max_missing_days
    papers = {paper: _Run() for paper in crawl.settings.epaper.papers}
    for day in days(span.since, span.until):
        if found.epaper_next is not None and day > found.epaper_next:
            continue  # walked before an interruption
        for paper, run in list(papers.items()):
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
        found.epaper_days += 1
        found.epaper_next = date.fromordinal(day.toordinal() - 1)
        if not papers:
            return


@dataclass
class _Run:
    found: bool = False
    missing: int = 0


async def until_stopped(work: Coroutine[Any, Any, object], stop: asyncio.Event) -> bool:
    """Run ``work`` until it ends or ``stop`` is set (then it is cancelled at its next await, a
    fetch in the middle of a list walk too); True when it ran to its end. Its errors are raised."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return False
    task.result()
    return True


async def run_backfill(
    crawl: CrawlRun,
    span: BackfillRange,
    *,
    stop: asyncio.Event,
    on_progress: Callable[[CrawlRun, Discovery], None] | None = None,
    after_discovery: Callable[[], Awaitable[None]] | None = None,
    found: Discovery | None = None,
) -> None:
    """Discover (from where ``found`` stands), then drain the range; progress reported through
    ``on_progress`` every second, and the discovery saved in the run every few seconds. A stop
    ends the discovery at once. ``after_discovery`` runs between the two (the command starts its
    helper processes there)."""
    found = found or Discovery()
    released = await release_dead_leases(crawl)
    if released:
        log.info("released %d URLs leased by processes that are gone", released)
    ticker = asyncio.create_task(_tick(crawl, span, found, on_progress, stop))
    try:
        if span.discover and span.source in ("site", "all"):
            await until_stopped(discover_site(crawl, span, found), stop)
        if span.discover and span.source in ("epaper", "all") and crawl.settings.epaper.enabled:
            await until_stopped(discover_epaper(crawl, span, found), stop)
        if stop.is_set():
            return
        if after_discovery is not None:
            await after_discovery()
        # a stop cancels the fetches in flight too (the URLs go back to the frontier, due now)
        if await until_stopped(drain(crawl, stop=stop, published_between=(span.since, span.until)), stop):
            await crawl.store.refresh_search()
            await crawl.store.write(index_archive, crawl.store.sync, crawl.settings)  # the replay's index
    finally:
        ticker.cancel()
        if on_progress:
            on_progress(crawl, found)
        with contextlib.suppress(StoreError):  # the database may be why it ends: the caller says so
            await _save(crawl, found, span)


async def _save(crawl: CrawlRun, found: Discovery, span: BackfillRange) -> None:
    """The counters, and where the discovery stands, into the run (a re-run resumes from it)."""
    if crawl.run_id is not None:
        discovery = {"discovery": found.to_json()} if span.discover else {}
        await crawl.store.update_run(crawl.run_id, dict(crawl.stats.counts), params=discovery or None)


#: seconds between two saves of a backfill's counters and discovery state
SAVE_EVERY_S = 5


async def _tick(
    crawl: CrawlRun,
    span: BackfillRange,
    found: Discovery,
    on_progress: Callable[[CrawlRun, Discovery], None] | None,
    stop: asyncio.Event,
) -> None:
    last_saved = datetime.now(UTC)
    while not stop.is_set():
        await asyncio.sleep(1)
        if on_progress:
            on_progress(crawl, found)
        if (datetime.now(UTC) - last_saved).total_seconds() >= SAVE_EVERY_S:
            with contextlib.suppress(StoreError):  # saved again at the next tick, and at the end
                await _save(crawl, found, span)
            last_saved = datetime.now(UTC)
