"""The daemon: APScheduler jobs over the crawl functions, a leader lock, signals, /healthz.

Jobs (AsyncIOScheduler, each ``max_instances=1``, coalesced, with a misfire grace):
``discover`` every ``schedule.poll_minutes`` walks the start lists (steady paging) then drains;
``epaper`` hourly walks today's issue (once ready) and yesterday's; ``drain`` every
``schedule.drain_seconds`` takes what fell due (revisits, retries); ``maintain`` refreshes gauges
and the search index; ``lock`` checks the leader lock every few seconds. Only the process holding
the leader lock schedules; another one waits as a standby and takes over when the lock frees.

A database outage (a PostgreSQL restart) is ridden out: the lock check notices the lost session,
the jobs pause while the database is away, the lock is taken again (a new session) as soon as the
server answers, and the jobs go on; if another daemon took the lock meanwhile, this one steps down
to standby. /healthz says "database unreachable" meanwhile. SIGTERM/SIGINT: stop claiming, finish
or hand back the URLs in flight, close the WARC file, exit 0 within ten seconds.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service.app.failures import in_plain_words
from service.app.signals import STOP_SIGNALS
from service.app.web import WebServer
from service.app.web.app import archive_app
from service.app.wiring import open_crawl
from service.crawl.context import CrawlContext
from service.crawl.cycle import CycleOutcome, Cycles
from service.crawl.drain import drain, hand_back_leases, release_dead_leases
from service.crawl.metrics import Metrics
from service.errors import StoreError
from service.settings import Settings
from service.store import LeaderLock, Store, open_store

log = logging.getLogger(__name__)

#: how long in-flight work may take to finish after SIGTERM before it is abandoned to its lease
STOP_GRACE_S = 8.0
#: how often a standby tries the leader lock, and the leader checks that it still holds it
STANDBY_POLL_S = 5.0
NO_CYCLE = "no cycle has run yet"
#: how often /healthz reads the last successful cycle from the database, seconds
HEALTH_READ_EVERY_S = 5.0
#: the longest pause between two attempts to reach a database that is down
RECONNECT_MAX_S = 60.0


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        store: Store | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        early_signals: list[signal.Signals] | None = None,
    ) -> None:
        self.settings = settings
        #: stop signals caught before the event loop's handlers were installed (see ``cli.run``)
        self.early_signals = early_signals if early_signals is not None else []
        self.metrics = metrics or Metrics()
        self.store = store
        self.clock = clock
        self.started_at = clock()
        self.stop = asyncio.Event()
        self.role = "starting"
        self.last_success: datetime | None = None
        self.last_error: str | None = NO_CYCLE
        self.web: WebServer | None = None
        #: ``time.monotonic()`` at which the next discovery cycle is due, and when that is (UTC)
        self.next_cycle_at = 0.0
        self.next_try: datetime | None = None
        #: set while the database cannot be reached: the jobs pause, the lock check keeps trying
        self.database_down: str | None = None
        self._recorded: datetime | None = None
        self._recorded_at: datetime | None = None
        self._recorded_lock = threading.Lock()
        #: set when another daemon took the scheduler lock while ours was lost
        self.step_down = asyncio.Event()
        #: set by a stop or a step-down: the drain stops claiming
        self.halt = asyncio.Event()

    # --- health ----------------------------------------------------------------------------------

    def health(self) -> tuple[bool, str]:
        """(healthy, reason) from the cycles recorded in the database (any daemon's, this one's since
        it started). Unhealthy, with the reason and the next try, as soon as this daemon tried and
        failed with no recent success; 200 "starting" during ``start_grace_minutes`` after the start
        only while it has not tried yet (a first cycle on an empty archive takes long)."""
        if self.database_down:
            return False, f"unhealthy: database unreachable: {self.database_down}"
        if self.role == "standby":
            return True, "standby: another daemon holds the scheduler"
        sched = self.settings.schedule
        now = self.clock()
        try:
            recorded = self._recorded_success(now)
        except StoreError as exc:
            return False, f"unhealthy: database: {exc}"
        last = max((t for t in (recorded, self.last_success) if t is not None), default=None)
        if last is not None and now - last <= timedelta(minutes=sched.unhealthy_after_minutes):
            return True, f"ok: last cycle succeeded at {last.isoformat(timespec='seconds')}"
        tried = self.last_error != NO_CYCLE
        if not tried and now - self.started_at <= timedelta(minutes=sched.start_grace_minutes):
            return True, (
                "starting: the first cycle is under way, started at "
                f"{self.started_at.isoformat(timespec='seconds')}"
            )
        why = self.last_error or f"no cycle succeeded in the last {sched.unhealthy_after_minutes:g} minutes"
        then = f"; next try at {self.next_try:%Y-%m-%d %H:%M} UTC" if self.next_try and tried else ""
        return False, f"unhealthy: {why}{then}"

    def _recorded_success(self, now: datetime) -> datetime | None:
        """The last successful cycle the database records, read at most every ``HEALTH_READ_EVERY_S``
        and by one caller at a time: a health check while the database hangs answers from what was
        read before instead of queueing behind the read (the checks would time out one after the
        other, before the lock check notices the database is gone)."""
        if self.store is None:
            return None
        fresh = self._recorded_at is not None and now - self._recorded_at < timedelta(
            seconds=HEALTH_READ_EVERY_S
        )
        if fresh or not self._recorded_lock.acquire(blocking=False):
            return self._recorded
        try:
            self._recorded = self.store.last_success("cycle")
            self._recorded_at = now
        finally:
            self._recorded_lock.release()
        return self._recorded

    # --- jobs ------------------------------------------------------------------------------------

    async def cycle(self, cycles: Cycles, *, full: bool = False) -> CycleOutcome:
        """One discovery cycle (``crawl.cycle``); /healthz learns how it went."""
        outcome = await cycles.run(full=full)
        if outcome.answered:
            self.last_success, self.last_error = datetime.now(UTC), None
        else:
            at = self.clock().strftime("%Y-%m-%d %H:%M")
            self.last_error = f"the last cycle failed at {at} UTC: {in_plain_words(outcome.error)}"
        self.refresh_gauges(outcome.run.context)
        return outcome

    def refresh_gauges(self, context: CrawlContext) -> None:
        for state, n in context.store.frontier_counts().items():
            self.metrics.frontier.labels(state=state).set(n)

    # --- running -----------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One full cycle; the exit code: 0 all good, 1 some URLs failed, 2 the site did not answer
        (unreachable, or nothing could be archived: a read-only archive folder)."""
        async with open_crawl(self.settings, metrics=self.metrics) as context:
            release_dead_leases(context)
            self._install_signals()
            try:
                outcome = await self.cycle(Cycles(context, stop=self.stop, halt=self.halt), full=True)
            finally:
                self._hand_back(context)
            if not outcome.answered and not self.stop.is_set():
                log.error("%s", self.last_error)
                return 2
            counts = outcome.run.stats.counts
            return 1 if counts["failed"] or counts["error"] else 0

    async def run_forever(self) -> None:
        store = self.store = open_store(self.settings)
        if (last := store.last_success("cycle")) is not None:
            self.metrics.last_success.set(last.timestamp())  # the alert reads what /healthz reads
        lock = store.leader_lock()
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
            if not await self._lead(lock):
                return
            async with open_crawl(self.settings, store=store, metrics=self.metrics) as context:
                cycles = Cycles(context, stop=self.stop, halt=self.halt)
                store.interrupt_running()
                while True:
                    release_dead_leases(context)
                    try:
                        await self._schedule(cycles, lock)
                    finally:
                        self._hand_back(context)
                    if self.stop.is_set() or not await self._lead(lock):
                        return
        finally:
            lock.release()
            if web:
                await web.stop()

    def _hand_back(self, context: CrawlContext) -> None:
        """Whatever this process still leases goes back to the frontier, due now."""
        try:
            if n := hand_back_leases(context):
                log.debug("handed back %d URLs", n)
        except StoreError as exc:  # the database is away: the leases will run out by themselves
            log.warning("could not hand back the URLs in flight: %s", exc)

    async def _lead(self, lock: LeaderLock) -> bool:
        """Wait until this process holds the scheduler lock, as a standby while another daemon
        holds it, retrying with a growing pause while the database is down; False when stopped."""
        pause = STANDBY_POLL_S
        while True:
            try:
                if await asyncio.to_thread(lock.try_acquire):
                    self._database_back()
                    self.role = "leader"
                    self.step_down.clear()
                    self.halt.clear()
                    log.info("leader: this daemon schedules the crawl")
                    return True
                self._database_back()
                if self.role != "standby":
                    log.info("standby: another daemon holds the scheduler lock; waiting")
                    self.role = "standby"
                pause = STANDBY_POLL_S
            except StoreError as exc:
                self._database_lost(exc, retry_in=pause)
                pause = min(pause * 2, RECONNECT_MAX_S)
            if await self._sleep(pause):
                return False

    def _database_lost(self, exc: StoreError, *, retry_in: float) -> None:
        if self.database_down is None:
            log.warning("database unreachable (%s); the jobs pause, retrying every %.0f-%.0f s",
                        exc, min(retry_in, STANDBY_POLL_S), RECONNECT_MAX_S)  # fmt: skip
        self.database_down = str(exc)
        self.last_error = f"database: {exc}"

    def _database_back(self) -> None:
        if self.database_down is not None:
            log.info("database reachable again; the jobs go on")
            self.database_down = None

    async def _schedule(self, cycles: Cycles, lock: LeaderLock) -> None:
        """Run the jobs until a stop, or until another daemon took the lock (``step_down``)."""
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
        scheduler.add_job(self._guard(self._discover, cycles), "interval", seconds=STANDBY_POLL_S,
                          next_run_time=now, id="discover", **common)  # fmt: skip
        scheduler.add_job(self._guard(self._epaper, cycles), "interval", hours=1, id="epaper", **common)
        scheduler.add_job(
            self._guard(self._drain, cycles), "interval", seconds=sched.drain_seconds, id="drain", **common
        )
        scheduler.add_job(
            self._guard(self._maintain, cycles.context), "interval", seconds=60, id="maintain", **common
        )
        scheduler.add_job(
            self._watch_lock, "interval", args=(lock,), seconds=STANDBY_POLL_S, id="lock", **common
        )
        scheduler.start()
        try:
            stopped = asyncio.ensure_future(self.stop.wait())
            stepped = asyncio.ensure_future(self.step_down.wait())
            await asyncio.wait([stopped, stepped], return_when=asyncio.FIRST_COMPLETED)
            for waiter in (stopped, stepped):
                waiter.cancel()
        finally:
            scheduler.shutdown(wait=False)
            await self._let_inflight_finish()

    async def _watch_lock(self, lock: LeaderLock) -> None:
        """Still the leader? A lost session (the database restarted) is replaced by a new one as soon
        as the server answers; if another daemon took the lock meanwhile, step down to standby."""
        if await asyncio.to_thread(lock.still_held):
            self._database_back()
            return
        try:
            regained = await asyncio.to_thread(lock.try_acquire)
        except StoreError as exc:
            self._database_lost(exc, retry_in=STANDBY_POLL_S)
            return
        self._database_back()
        if regained:
            log.info("the scheduler lock is held again (new database session)")
            return
        log.warning("another daemon took the scheduler lock while the database was away; standing by")
        self.role = "standby"
        self.halt.set()
        self.step_down.set()

    async def _discover(self, cycles: Cycles) -> None:
        """A cycle when the adaptive interval (``next_poll_minutes``) has passed since the last one;
        the job itself ticks every few seconds, so a tick skipped during a database outage only
        delays the cycle until the database is back. A cycle that failed on the database is tried
        again within a minute."""
        if time.monotonic() < self.next_cycle_at:
            return
        self._next_cycle_in(min(cycles.poll_minutes * 60, RECONNECT_MAX_S))
        outcome = await self.cycle(cycles)
        self._next_cycle_in(cycles.poll_minutes * 60)
        if not outcome.answered and outcome.run.run_id is not None and self.next_try is not None:
            # the home page of the archive view (maybe another process) shows when the next try is
            try:
                cycles.context.store.update_run(
                    outcome.run.run_id,
                    {},
                    params={"next_try_at": self.next_try.isoformat(timespec="seconds")},
                )
            except StoreError as exc:
                log.warning("could not record the next try of the failed cycle: %s", exc)

    def _next_cycle_in(self, seconds: float) -> None:
        self.next_cycle_at = time.monotonic() + seconds
        self.next_try = self.clock() + timedelta(seconds=seconds)

    async def _epaper(self, cycles: Cycles) -> None:
        """The hourly look at the e-paper between cycles, as a run of its own (no run record)."""
        await cycles.epaper(cycles.context.run())

    async def _drain(self, cycles: Cycles) -> None:
        """What fell due between cycles (revisits, retries), as a run of its own: its counts and
        fetch rows never land in a cycle's run."""
        run = cycles.context.run()
        if processed := await drain(run, stop=self.halt):
            log.info("drained %d due URLs: %s", processed, dict(run.stats.counts))

    async def _maintain(self, context: CrawlContext) -> None:
        self.refresh_gauges(context)
        context.store.refresh_search()

    def _guard(self, job: Any, *args: Any) -> Any:
        """A job that never raises into the scheduler: a failure is logged and makes /healthz say why."""

        async def run() -> None:
            if self.stop.is_set() or self.step_down.is_set() or self.database_down:
                return
            try:
                await job(*args)
            except asyncio.CancelledError:  # the stop's grace ran out: the job has handed back its URLs
                log.debug("job %s cancelled by the stop", job.__name__)
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
            if still:  # let them hand back their URLs and close their run
                await asyncio.wait(still, timeout=1.0)

    async def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopped; True when the stop came."""
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        for sig in self.early_signals:
            self._on_signal(sig)

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self.stop.is_set():
            log.info("%s: stopping (finishing the URLs in flight)", sig.name)
        self.halt.set()
        self.stop.set()
