"""The daemon's discovery cycle: read the start lists (and, now and then, the channel lists they
link), today's and yesterday's e-paper issues, then drain what is due; recorded as a run.

``Cycles`` keeps what one cycle leaves for the next: the lists' conditional-request validators,
the channel lists ("hubs") known and when they were last walked, the e-paper issues done, and the
adaptive poll interval. The daemon (``app.daemon``) only decides when a cycle runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from service.crawl import alarm
from service.crawl.captures import index_archive
from service.crawl.context import WATCHED_FIELDS, CrawlContext, CrawlRun
from service.crawl.discover import (
    SteadyPaging,
    Validators,
    next_poll_minutes,
    start_urls,
    walk_issue,
    walk_lists,
)
from service.crawl.drain import drain
from service.errors import StoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """What a cycle did: whether the site answered, the first errors of its list walk, its run."""

    answered: bool
    error: str | None
    run: CrawlRun


class Cycles:
    """Discovery cycles of one daemon. ``stop``: the daemon is stopping (a cycle cut short is
    recorded "interrupted"); ``halt``: the drain stops claiming (a stop, or a step-down)."""

    def __init__(self, context: CrawlContext, *, stop: asyncio.Event, halt: asyncio.Event) -> None:
        self.context = context
        self.settings = context.settings
        self.stop, self.halt = stop, halt
        self.validators = Validators()
        self.issues_done: set[tuple[str, str]] = set()
        self.known_hubs: list[str] = []
        self.hubs_walked_at: float | None = None
        self.poll_minutes = self.settings.schedule.poll_minutes
        #: runs cut short whose record could not be closed (the database was the reason): their
        #: ``finish_run`` arguments, written by ``close_pending`` once the database answers
        self.unclosed: dict[int, dict[str, Any]] = {}

    async def run(self, *, full: bool = False) -> CycleOutcome:
        """One cycle. The start lists are read every cycle; the channel lists they link only when
        ``full``, when ``schedule.hub_every_minutes`` passed, or when a start page was entirely new
        (it may have scrolled past articles we never saw). A cycle cut short (a stop, a database
        error) still closes its run: "interrupted" or "failed"."""
        store = self.context.store
        run_id = await store.start_run("cycle", {"start_urls": start_urls(self.settings)})
        run = self.context.run(run_id)
        try:
            return await self._run(run, run_id, full=full)
        except BaseException as exc:  # CancelledError too: the run must not stay "running"
            # a stop, or the database failing, cuts the cycle short: neither is the cycle's failure
            stopped = self.stop.is_set() or isinstance(exc, (asyncio.CancelledError, StoreError))
            self.unclosed[run_id] = {"status": "interrupted" if stopped else "failed",
                                     "counters": dict(run.stats.counts), "error": None if stopped else repr(exc)[:500]}  # fmt: skip
            with contextlib.suppress(StoreError, asyncio.CancelledError):  # the database may be the reason
                await self.close_pending()
            raise

    async def close_pending(self) -> int:
        """Close the records of runs cut short that could not be closed then; how many. Raises
        ``StoreError`` while the database still fails (the rest wait for the next call)."""
        done = 0
        while self.unclosed:
            run_id, finish = next(iter(self.unclosed.items()))
            await self.context.store.finish_run(run_id, **finish)
            self.unclosed.pop(run_id, None)
            done += 1
        return done

    async def _run(self, run: CrawlRun, run_id: int, *, full: bool) -> CycleOutcome:
        sched = self.settings.schedule
        paging = SteadyPaging(sched.max_list_pages)
        # every list of this cycle is judged against the archive as it stood when the cycle began
        common: dict[str, Any] = {"settings": self.settings, "fetcher": run.fetcher, "frontier": run.frontier,
                                  "paging": paging, "validators": self.validators, "began": datetime.now(UTC)}  # fmt: skip
        walk = await walk_lists(start_urls(self.settings), follow_hubs=False, **common)
        self.known_hubs = walk.hubs or self.known_hubs
        due = (
            self.hubs_walked_at is None
            or time.monotonic() - self.hubs_walked_at >= sched.hub_every_minutes * 60
        )
        new, pages = walk.new, walk.pages
        if self.known_hubs and (full or due or walk.saturated):
            hubs = await walk_lists(self.known_hubs, follow_hubs=False, **common)
            new, pages = new + hubs.new, pages + hubs.pages
            self.hubs_walked_at = time.monotonic()
        run.count("list_pages", pages)
        run.count("discovered", new)
        await self.epaper(run)
        await drain(run, stop=self.halt)
        await run.store.refresh_search()
        await run.store.write(index_archive, run.store.sync, self.settings)  # the replay's index
        error = "; ".join(walk.errors[:3]) or None
        await self._finish(run, run_id, ok=walk.answered, error=error)
        self.poll_minutes = next_poll_minutes(self.poll_minutes, new, least=sched.poll_minutes,
                                              most=sched.max_poll_minutes, target=sched.target_new_per_poll)  # fmt: skip
        return CycleOutcome(walk.answered, error, run)

    async def epaper(self, run: CrawlRun) -> None:
        """Today's issue once it should be online, and yesterday's (late pages), once each."""
        cfg = self.settings.epaper
        if not cfg.enabled:
            return
        now = datetime.now(ZoneInfo(self.settings.schedule.timezone))
        days = [now.date() - timedelta(days=1)] + ([now.date()] if now.hour >= cfg.issue_ready_hour else [])
        for day in days:
            for paper in cfg.papers:
                if (paper, day.isoformat()) in self.issues_done:
                    continue
                walk = await walk_issue(self.settings, paper, day, fetcher=run.fetcher, frontier=run.frontier)
                run.count("epaper_pages", walk.pages)
                run.count("discovered", walk.new)
                if walk.pages and not walk.failed:
                    self.issues_done.add((paper, day.isoformat()))

    async def _finish(self, run: CrawlRun, run_id: int, *, ok: bool, error: str | None) -> None:
        """Close the run: the template-change alarm on its fill rates, its counters, the metrics."""
        metrics, store = run.metrics, run.store
        rates = run.stats.rates()
        history = [
            alarm.from_counters(r.get("counters") or {})
            for r in await store.last_runs(self.settings.alarm.baseline_runs * 3)
            if r.get("kind") == "cycle" and r.get("id") != run_id and r.get("status") == "ok"
        ]
        alarmed = alarm.evaluate(rates, history, self.settings.alarm, articles=run.stats.extracted)
        for name in (*WATCHED_FIELDS, "generic_share"):
            metrics.alarm.labels(field=name).set(1 if name in alarmed else 0)
        for name, rate in rates.items():
            metrics.fill_rate.labels(field=name).set(rate)
        if alarmed:
            log.error("template-change alarm: fill rates moved past %.0f%% for %s (rates %s)",
                      self.settings.alarm.max_drop * 100, ", ".join(alarmed), rates)  # fmt: skip
        counters = dict(run.stats.counts) | alarm.to_counters(rates) | {f"alarm_{n}": 1 for n in alarmed}
        counters["articles_extracted"] = run.stats.extracted
        status = "interrupted" if self.stop.is_set() else "ok" if ok else "failed"
        await store.finish_run(run_id, status=status, counters=counters, error=error)
        metrics.cycles.labels(result="ok" if ok else "failed").inc()
        if ok:
            metrics.last_success.set(time.time())
