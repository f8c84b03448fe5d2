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
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service.app.commands.common import one_line
from service.app.failures import in_plain_words
from service.app.signals import STOP_SIGNALS
from service.app.web import WebServer
from service.app.web.app import archive_app
from service.app.wiring import open_crawl
from service.crawl.context import CrawlContext
from service.crawl.cycle import CycleOutcome, Cycles
from service.crawl.drain import drain, hand_back_leases, hand_back_stranded, release_dead_leases
from service.crawl.metrics import Metrics
from service.errors import StoreError
from service.settings import Settings
from service.store import AsyncStore, LeaderLock

log = logging.getLogger(__name__)

T = TypeVar("T")

#: how long in-flight work may take to finish after SIGTERM before it is abandoned to its lease
STOP_GRACE_S = 8.0
#: how often a standby tries the leader lock, and the leader checks that it still holds it
STANDBY_POLL_S = 5.0
NO_CYCLE = "no cycle has run yet"
#: how often /healthz reads the last successful cycle from the database, seconds
HEALTH_READ_EVERY_S = 5.0
#: how long /healthz waits for that read before it answers from the last one
HEALTH_READ_WAIT_S = 0.2
#: how long /healthz waits for the database's probe (within the web server's 1.5 s)
PROBE_S = 0.8
#: the longest pause between two attempts to reach a database that is down
RECONNECT_MAX_S = 60.0
#: how long a stop waits for the database to take back the URLs in flight
HAND_BACK_S = 1.5


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        store: AsyncStore | None = None,
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
        #: the read of the last recorded success in progress (one at a time; /healthz never waits
        #: for a slow one longer than ``HEALTH_READ_WAIT_S``)
        self._reading: asyncio.Future[datetime | None] | None = None
        #: the crawl's pieces while it runs: what a database outage left behind is put right from
        #: them when the database is back (``_recover``)
        self.context: CrawlContext | None = None
        self.cycles: Cycles | None = None
        #: set when another daemon took the scheduler lock while ours was lost
        self.step_down = asyncio.Event()
        #: set by a stop or a step-down: the drain stops claiming
        self.halt = asyncio.Event()

    # --- health ----------------------------------------------------------------------------------

    async def health(self) -> tuple[bool, str]:
        """(healthy, reason) from the cycles recorded in the database (any daemon's, this one's since
        it started). Unhealthy, with the reason and the next try, as soon as this daemon tried and
        failed with no recent success; 200 "starting" during ``start_grace_minutes`` after the start
        only while it has not tried yet (a first cycle on an empty archive takes long). First the
        database itself is probed (``AsyncStore.probe``, within ``PROBE_S``): "unhealthy: database
        locked" (SQLite: another process holds the write lock), "… unreachable", "… timeout" (a
        hung or stopped server). Never blocks the event loop; answers within about 1.2 s."""
        if self.store is not None:
            state = await self.store.probe(PROBE_S)
            if state == "unreachable" and self.database_down is None:
                # noticed here first: the jobs pause as when the lock check notices (it says when it is back)
                self._database_lost(
                    StoreError("the health probe could not reach it"), retry_in=STANDBY_POLL_S
                )
            if state != "ok":
                detail = f": {self.database_down}" if self.database_down else ""
                return False, f"unhealthy: database {state}{detail}"
        if self.database_down:
            return False, f"unhealthy: database unreachable: {self.database_down}"
        if self.role == "standby":
            return True, "standby: another daemon holds the scheduler"
        sched = self.settings.schedule
        now = self.clock()
        try:
            recorded = await self._recorded_success(now)
        except StoreError as exc:
            return False, f"unhealthy: database unreachable: {exc}"
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

    async def _recorded_success(self, now: datetime) -> datetime | None:
        """The last successful cycle the database records, read at most every ``HEALTH_READ_EVERY_S``
        and by one caller at a time: a health check while the database is slow answers from what was
        read before instead of queueing behind the read. Raises ``StoreError``."""
        if self.store is None:
            return None
        fresh = self._recorded_at is not None and now - self._recorded_at < timedelta(
            seconds=HEALTH_READ_EVERY_S
        )
        if fresh:
            return self._recorded
        if self._reading is None or self._reading.done():
            self._reading = asyncio.ensure_future(self.store.last_success("cycle"))
        try:
            self._recorded = await asyncio.wait_for(asyncio.shield(self._reading), HEALTH_READ_WAIT_S)
        except TimeoutError:
            return self._recorded
        self._recorded_at = now
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
        await self.refresh_gauges(outcome.run.context)
        return outcome

    async def refresh_gauges(self, context: CrawlContext) -> None:
        for state, n in (await context.store.frontier_counts()).items():
            self.metrics.frontier.labels(state=state).set(n)

    # --- running -----------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """One full cycle; the exit code: 0 all good, 1 some URLs failed, 2 the site did not answer
        (unreachable, or nothing could be archived: a read-only archive folder)."""
        async with open_crawl(self.settings, metrics=self.metrics) as context:
            await release_dead_leases(context)
            self._install_signals()
            try:
                outcome = await self.cycle(Cycles(context, stop=self.stop, halt=self.halt), full=True)
            finally:
                await self._hand_back(context)
            if not outcome.answered and not self.stop.is_set():
                log.error("%s", self.last_error)
                return 2
            counts = outcome.run.stats.counts
            return 1 if counts["failed"] or counts["error"] else 0

    async def run_forever(self) -> None:
        store = self.store = await AsyncStore.open(self.settings)
        try:
            await self._run_forever(store)
        finally:
            await store.aclose()

    async def _run_forever(self, store: AsyncStore) -> None:
        if (last := await store.last_success("cycle")) is not None:
            self.metrics.last_success.set(last.timestamp())  # the alert reads what /healthz reads
        lock = store.leader_lock()
        # the archive view's handlers are plain functions: Starlette runs them on its threads
        archive = archive_app(self.settings, store.sync.reader()) if self.settings.web.archive else None
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
                self.context, self.cycles = context, cycles
                await store.interrupt_running()
                while True:
                    await release_dead_leases(context)
                    try:
                        await self._schedule(cycles, lock)
                    finally:
                        await self._hand_back(context)
                    if self.stop.is_set() or not await self._lead(lock):
                        return
        finally:
            # a server that does not answer ends the session (and its lock) when the process exits
            with contextlib.suppress(StoreError, TimeoutError):
                await asyncio.wait_for(self._on_lock(lock.release), HAND_BACK_S)
            if web:
                await web.stop()

    async def _hand_back(self, context: CrawlContext) -> None:
        """At a stop: whatever this process still leases goes back to the frontier, due now, and
        the runs cut short are closed; within ``HAND_BACK_S`` (the database may be away)."""

        async def hand_back() -> None:
            if self.cycles is not None:
                await self.cycles.close_pending()
            if n := await hand_back_leases(context):
                log.debug("handed back %d URLs", n)

        try:
            await asyncio.wait_for(hand_back(), HAND_BACK_S)
        except (StoreError, TimeoutError) as exc:  # the database is away: the leases run out by themselves
            log.warning(
                "could not hand back the URLs in flight: %s",
                one_line(str(exc)) or "the database did not answer",
            )

    async def _recover(self) -> None:
        """The database answers again: what its outage left behind goes back at once (the URLs this
        process held, due now, no attempt counted; the runs cut short, closed "interrupted"), so
        the crawl goes on now rather than when the leases run out."""
        try:
            if self.context is not None and (n := await hand_back_stranded(self.context)):
                log.info("handed back %d URLs held when the database went away", n)
            if self.cycles is not None:
                await self.cycles.close_pending()
        except StoreError as exc:
            log.warning(
                "could not yet hand back what the database outage left behind: %s", one_line(str(exc))
            )

    async def _lead(self, lock: LeaderLock) -> bool:
        """Wait until this process holds the scheduler lock, as a standby while another daemon
        holds it, retrying with a growing pause while the database is down; False when stopped."""
        pause = STANDBY_POLL_S
        while True:
            try:
                if await self._on_lock(lock.try_acquire):
                    await self._database_back()
                    self.role = "leader"
                    self.step_down.clear()
                    self.halt.clear()
                    log.info("leader: this daemon schedules the crawl")
                    return True
                await self._database_back()
                if self.role != "standby":
                    log.info("standby: another daemon holds the scheduler lock; waiting")
                    self.role = "standby"
                pause = STANDBY_POLL_S
            except StoreError as exc:
                self._database_lost(exc, retry_in=pause)
                pause = min(pause * 2, RECONNECT_MAX_S)
            if await self._sleep(pause):
                return False

    async def _on_lock(self, call: Callable[[], T]) -> T:
        """A call of the scheduler lock, on the store's reader threads (daemon threads: one stuck on
        a stopped server never keeps the process from exiting)."""
        if self.store is None:
            return await asyncio.to_thread(call)
        return await self.store.read(call)

    def _database_lost(self, exc: StoreError, *, retry_in: float) -> None:
        reason = one_line(str(exc))
        if self.database_down is None:
            log.warning("database unreachable (%s); the jobs pause, retrying every %.0f-%.0f s",
                        reason, min(retry_in, STANDBY_POLL_S), RECONNECT_MAX_S)  # fmt: skip
        self.database_down = reason
        self.last_error = f"database: {reason}"

    async def _database_back(self) -> None:
        if self.database_down is not None:
            log.info("database reachable again; the jobs go on")
            self.database_down = None
            await self._recover()

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
        try:
            await self._check_lock(lock)
        except asyncio.CancelledError:  # the stop's grace ran out while the database did not answer
            log.debug("the lock check was cancelled by the stop")

    async def _check_lock(self, lock: LeaderLock) -> None:
        if await self._on_lock(lock.still_held):
            await self._database_back()
            return
        try:
            regained = await self._on_lock(lock.try_acquire)
        except StoreError as exc:
            self._database_lost(exc, retry_in=STANDBY_POLL_S)
            return
        await self._database_back()
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
                await cycles.context.store.update_run(
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
        await self.refresh_gauges(context)
        await context.store.refresh_search()

    def _guard(self, job: Any, *args: Any) -> Any:
        """A job that never raises into the scheduler: a failure is logged and makes /healthz say why."""

        async def run() -> None:
            if self.stop.is_set() or self.step_down.is_set() or self.database_down:
                return
            try:
                if (self.context and self.context.stranded) or (self.cycles and self.cycles.unclosed):
                    await self._recover()
                await job(*args)
            except asyncio.CancelledError:  # the stop's grace ran out: the job has handed back its URLs
                log.debug("job %s cancelled by the stop", job.__name__)
            except StoreError as exc:  # the database's fault: one line; what it cut short is put right later
                self.last_error = f"database: {one_line(str(exc))}"
                log.error("database error in %s: %s", job.__name__, one_line(str(exc)))
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
