"""The daemon: APScheduler jobs over the crawl functions, a leader lock, signals, /healthz.

Jobs (AsyncIOScheduler, each ``max_instances=1``, coalesced, with a misfire grace):
``discover`` every ``schedule.poll_minutes`` walks the start lists (steady paging) then drains;
``epaper`` hourly walks today's issue (once ready) and yesterday's; ``drain`` every
``schedule.drain_seconds`` takes what fell due (revisits, retries); ``maintain`` refreshes gauges
and checks the lock. Only the process holding the leader lock schedules; another one waits as a
standby and takes over when the lock frees. SIGTERM/SIGINT: stop claiming, finish or hand back the
URLs in flight, close the WARC file, exit 0 within ten seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service.config import Settings
from service.crawl import alarm
from service.crawl.backfill import start_urls
from service.crawl.discover import SteadyPaging, Validators, next_poll_minutes, walk_issue, walk_lists
from service.crawl.pipeline import Crawl, CycleStats
from service.crawl.runner import drain, release_dead_leases
from service.crawl.wiring import open_crawl, open_store
from service.errors import StoreError
from service.metrics import Metrics
from service.store.leader import LeaderLock
from service.web import WebServer
from service.web.app import archive_app

log = logging.getLogger(__name__)

#: how long in-flight work may take to finish after SIGTERM before it is abandoned to its lease
STOP_GRACE_S = 8.0
#: how often a standby tries the leader lock
STANDBY_POLL_S = 5.0


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        early_signals: list[signal.Signals] | None = None,
    ) -> None:
        self.settings = settings
        #: stop signals caught before the event loop's handlers were installed (see ``cli.run``)
        self.early_signals = early_signals if early_signals is not None else []
        self.metrics = metrics or Metrics()
        self.stop = asyncio.Event()
        self.role = "starting"
        self.last_success: datetime | None = None
        self.last_error: str | None = "no cycle has run yet"
        self.validators = Validators()
        self.issues_done: set[tuple[str, str]] = set()
        self.crawl: Crawl | None = None
        self.web: WebServer | None = None
        self.known_hubs: list[str] = []
        self.hubs_walked_at: float | None = None
        self.poll_minutes = settings.schedule.poll_minutes

    # --- health ----------------------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        if self.role == "standby":
            return True, "standby: another daemon holds the scheduler"
        limit = timedelta(minutes=self.settings.schedule.unhealthy_after_minutes)
        if self.last_success and datetime.now(UTC) - self.last_success <= limit:
            return True, f"ok: last cycle succeeded at {self.last_success.isoformat(timespec='seconds')}"
        return False, f"unhealthy: {self.last_error or 'no successful cycle recently'}"

    # --- jobs ------------------------------------------------------------------------------------

    async def cycle(self, crawl: Crawl, *, full: bool = False) -> bool:
        """One discovery cycle and the drain of what is due; recorded as a run. True when the site
        answered. The start lists are read every cycle; the channel lists they link only when
        ``full``, when ``schedule.hub_every_minutes`` passed, or when a start page was entirely new
        (it may have scrolled past articles we never saw)."""
        sched = self.settings.schedule
        run_id = crawl.store.start_run("cycle", {"start_urls": start_urls(crawl)})
        crawl.run_id, crawl.stats = run_id, CycleStats()
        paging = SteadyPaging(sched.max_list_pages)
        common: dict[str, Any] = {"settings": self.settings, "fetcher": crawl.fetcher, "frontier": crawl.frontier,
                                  "paging": paging, "validators": self.validators}  # fmt: skip
        walk = await walk_lists(start_urls(crawl), follow_hubs=False, **common)
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
        crawl.count("list_pages", pages)
        crawl.count("discovered", new)
        await self.epaper(crawl)
        await drain(crawl, stop=self.stop)
        crawl.store.refresh_search()
        self.finish_cycle(crawl, run_id, ok=walk.answered, error="; ".join(walk.errors[:3]) or None)
        self.poll_minutes = next_poll_minutes(self.poll_minutes, new, least=sched.poll_minutes,
                                              most=sched.max_poll_minutes, target=sched.target_new_per_poll)  # fmt: skip
        return walk.answered

    async def epaper(self, crawl: Crawl) -> None:
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
                walk = await walk_issue(
                    self.settings, paper, day, fetcher=crawl.fetcher, frontier=crawl.frontier
                )
                crawl.count("epaper_pages", walk.pages)
                crawl.count("discovered", walk.new)
                if walk.pages and not walk.failed:
                    self.issues_done.add((paper, day.isoformat()))

    def finish_cycle(self, crawl: Crawl, run_id: int, *, ok: bool, error: str | None) -> None:
        rates = crawl.stats.rates()
        history = [
            alarm.from_counters(r.get("counters") or {})
            for r in crawl.store.last_runs(self.settings.alarm.baseline_runs * 3)
            if r.get("kind") == "cycle" and r.get("id") != run_id and r.get("status") == "ok"
        ]
        alarmed = alarm.evaluate(rates, history, self.settings.alarm, articles=crawl.stats.extracted)
        for name in ("title", "published_at", "body_text", "reporters", "editors", "generic_share"):
            self.metrics.alarm.labels(field=name).set(1 if name in alarmed else 0)
        for name, rate in rates.items():
            self.metrics.fill_rate.labels(field=name).set(rate)
        if alarmed:
            log.error("template-change alarm: fill rates moved past %.0f%% for %s (rates %s)",
                      self.settings.alarm.max_drop * 100, ", ".join(alarmed), rates)  # fmt: skip
        counters = dict(crawl.stats.counts) | alarm.to_counters(rates) | {f"alarm_{n}": 1 for n in alarmed}
        counters["articles_extracted"] = crawl.stats.extracted
        crawl.store.finish_run(run_id, status="ok" if ok else "failed", counters=counters, error=error)
        self.metrics.cycles.labels(result="ok" if ok else "failed").inc()
        if ok:
            self.last_success, self.last_error = datetime.now(UTC), None
            self.metrics.last_success.set(time.time())
        else:
            self.last_error = f"site unreachable or failing: {error}" if error else "no list page answered"
        self.refresh_gauges(crawl)

    def refresh_gauges(self, crawl: Crawl) -> None:
        for state, n in crawl.store.frontier_counts().items():
            self.metrics.frontier.labels(state=state).set(n)

    # --- running -----------------------------------------------------------------------------------

    async def run_once(self) -> None:
        async with open_crawl(self.settings, metrics=self.metrics) as crawl:
            release_dead_leases(crawl)
            self.crawl = crawl
            self._install_signals()
            await self.cycle(crawl, full=True)

    async def run_forever(self) -> None:
        store = open_store(self.settings)
        lock = LeaderLock(store.engine)
        archive = archive_app(self.settings, store.reader()) if self.settings.web.archive else None
        web = (
            WebServer(self.settings.web.listen, health=self.health, metrics=self.metrics.render, app=archive)
            if self.settings.web.listen
            else None
        )
        self.web = web
        self._install_signals()
        if web:
            await web.start()
        try:
            while not lock.try_acquire():
                if self.role != "standby":
                    log.info("standby: another daemon holds the scheduler lock; waiting")
                    self.role = "standby"
                if await self._sleep(STANDBY_POLL_S):
                    return
            self.role = "leader"
            log.info("leader: this daemon schedules the crawl")
            async with open_crawl(self.settings, store=store, metrics=self.metrics) as crawl:
                self.crawl = crawl
                store.interrupt_running()
                release_dead_leases(crawl)
                await self._schedule(crawl, lock)
        finally:
            lock.release()
            if web:
                await web.stop()

    async def _schedule(self, crawl: Crawl, lock: LeaderLock) -> None:
        sched = self.settings.schedule
        scheduler = AsyncIOScheduler(timezone=sched.timezone)
        common: dict[str, Any] = {
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": sched.misfire_grace_s,
        }
        if self.stop.is_set():  # stopped while starting: book nothing
            return
        now = datetime.now(UTC)
        scheduler.add_job(
            self._guard(self._discover, crawl, scheduler), "date", run_date=now, id="discover", **common
        )
        scheduler.add_job(self._guard(self.epaper, crawl), "interval", hours=1, id="epaper", **common)
        scheduler.add_job(
            self._guard(self._drain, crawl), "interval", seconds=sched.drain_seconds, id="drain", **common
        )
        scheduler.add_job(
            self._guard(self._maintain, crawl, lock), "interval", seconds=60, id="maintain", **common
        )
        scheduler.start()
        try:
            await self.stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await self._let_inflight_finish()

    async def _discover(self, crawl: Crawl, scheduler: AsyncIOScheduler) -> None:
        """A cycle, then the next one booked after the adaptive interval (see ``next_poll_minutes``)."""
        try:
            await self.cycle(crawl)
        finally:
            if not self.stop.is_set():
                at = datetime.now(UTC) + timedelta(minutes=self.poll_minutes)
                scheduler.add_job(self._guard(self._discover, crawl, scheduler), "date", run_date=at, id="discover",
                                  replace_existing=True, max_instances=1, misfire_grace_time=self.settings.schedule.misfire_grace_s)  # fmt: skip

    async def _drain(self, crawl: Crawl) -> None:
        await drain(crawl, stop=self.stop)

    async def _maintain(self, crawl: Crawl, lock: LeaderLock) -> None:
        self.refresh_gauges(crawl)
        crawl.store.refresh_search()
        if not lock.still_held():
            log.error("lost the scheduler lock (database session gone); stopping")
            self.stop.set()

    def _guard(self, job: Any, *args: Any) -> Any:
        """A job that never raises into the scheduler: a failure is logged and makes /healthz say why."""

        async def run() -> None:
            if self.stop.is_set():
                return
            try:
                await job(*args)
            except StoreError as exc:
                self.last_error = f"database: {exc}"
                log.error("database error in %s: %s", job.__name__, exc)
            except Exception as exc:
                self.last_error = f"{job.__name__} failed: {exc!r}"
                log.exception("job %s failed", job.__name__)

        run.__name__ = getattr(job, "__name__", "job")
        return run

    async def _let_inflight_finish(self) -> None:
        """After the stop: wait a little for running jobs (they stop claiming at once), then go.
        The web listener is no job: it runs until ``run_forever`` stops it, after this."""
        spared = {asyncio.current_task(), self.web.task if self.web else None}
        pending = [t for t in asyncio.all_tasks() if t not in spared and not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=STOP_GRACE_S)
            for task in still:
                task.cancel()

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when the stop came."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        for sig in self.early_signals:
            self._on_signal(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self.stop.is_set():
            log.info("%s: stopping (finishing the URLs in flight)", sig.name)
        self.stop.set()
