"""``jinshan recheck``: every stored article of a range checked again now, through the frontier.

The articles' URLs are made due at the recheck's own claim priority (``schedule.RECHECK_PRIORITY``,
``Store.mark_recheck``), then drained like the backfill drains its range: the same pipeline
(conditional requests, a change is a version, a 404/410 marks the article gone, a redirect to
another article is recorded), the same leases and the politeness shared with every process on the
database, so it may run beside the daemon. The daemon takes such URLs too, as sweep checks, when
its budget allows: what it checked is not counted here, and a recheck that was stopped leaves
nothing out of schedule.

Resumable: the run records its range and when the first run over it began; a re-run of a recheck
that did not finish marks only the URLs not fetched since then.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from service.crawl.context import CrawlRun
from service.crawl.drain import drain, release_dead_leases
from service.crawl.schedule import RECHECK_PRIORITY
from service.store import RecheckRange, Store

log = logging.getLogger(__name__)

#: the claim band of a recheck's drain: its own URLs only
RECHECK_BAND = (RECHECK_PRIORITY, RECHECK_PRIORITY)
#: the summary's keys, in order
SUMMARY = ("checked", "unchanged", "changed", "gone", "came_back", "failed")


@dataclass(frozen=True, slots=True)
class RecheckSpec:
    """The command's options: what to re-check."""

    since: date | None = None
    until: date | None = None
    channel: str | None = None
    gone: bool = False

    def params(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "channel": self.channel, "gone": self.gone}  # fmt: skip


def resume_from(store: Store, spec: RecheckSpec) -> datetime | None:
    """When the recheck of the same range that did not finish began (its re-run skips the URLs
    fetched since), or None: the last one finished, or there was none."""
    wanted = spec.params()
    for run in store.last_runs(50):
        params = run.get("params") or {}
        if run.get("kind") != "recheck" or any(params.get(k) != v for k, v in wanted.items()):
            continue
        if run.get("status") == "ok" or not params.get("began"):
            return None
        return datetime.fromisoformat(str(params["began"]))
    return None


def summary(counts: Counter[str], *, unfinished: int | None = None) -> dict[str, int]:
    """The pipeline's outcome counts as the recheck reports them. ``failed``: the URLs whose check
    did not end (``unfinished``, read from the frontier at the end; while running, the failed
    attempts so far: a URL retried counts each time)."""
    attempts = counts["failed"] + counts["retry"] + counts["error"]
    out = {
        "unchanged": counts["unchanged"] + counts["duplicate"],
        "changed": counts["changed"] + counts["new"],
        "gone": counts["gone"],
        "came_back": counts["came_back"],
        "failed": counts["refused"] + (attempts if unfinished is None else unfinished),
        "moved": counts["alias"],
        "not_article": counts["not_article"],
    }
    checked = sum(v for k, v in out.items() if k != "came_back")
    return {"checked": checked, **out, "requests": counts["fetched"], "conditional": counts["conditional"]}


async def run_recheck(
    crawl: CrawlRun,
    spec: RecheckSpec,
    *,
    began: datetime,
    stop: asyncio.Event,
    on_progress: Callable[[CrawlRun, int], None] | None = None,
) -> int:
    """Mark the range's URLs due (only those not fetched since ``began``), then drain them; how many
    were marked. Progress through ``on_progress(run, marked)`` every second."""
    released = release_dead_leases(crawl)
    if released:
        log.info("released %d URLs leased by processes that are gone", released)
    rng = RecheckRange(spec.since, spec.until, spec.channel, spec.gone, checked_before=began)
    now = datetime.now(UTC)
    # a batch per transaction, off the event loop (a million articles take a while to mark)
    marked = await crawl.store.mark_recheck(rng, priority=RECHECK_PRIORITY, now=now)
    log.info("re-checking %d stored articles", marked)
    ticker = asyncio.create_task(_tick(crawl, marked, on_progress, stop))
    try:
        await drain(crawl, stop=stop, priorities=RECHECK_BAND)
        await crawl.store.refresh_search()
    finally:
        ticker.cancel()
        if on_progress:
            on_progress(crawl, marked)
    return marked


async def _tick(
    crawl: CrawlRun, marked: int, on_progress: Callable[[CrawlRun, int], None] | None, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        await asyncio.sleep(1)
        if on_progress:
            on_progress(crawl, marked)
        if crawl.run_id is not None:
            await crawl.store.update_run(crawl.run_id, dict(crawl.stats.counts))
