"""/healthz from the runs recorded in the database, on both databases: a daemon that just started
on a healthy archive is healthy at once; a fresh archive is "starting" for a grace period."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from service.app.daemon import Daemon
from service.settings import Settings
from service.store import AsyncStore
from service.store.repo import Store


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_recorded_cycle_makes_a_new_daemon_healthy(store: Store, settings: Settings) -> None:
    run = store.start_run("cycle", {})
    store.finish_run(run, status="ok", counters={})
    clock = Clock()
    daemon = Daemon(settings, store=AsyncStore(store), clock=clock)
    ok, reason = asyncio.run(daemon.health())
    assert ok and reason.startswith("ok:"), reason
    sched = settings.schedule
    clock.now += timedelta(minutes=max(sched.unhealthy_after_minutes, sched.start_grace_minutes) + 1)
    ok, reason = asyncio.run(daemon.health())
    assert not ok and reason.startswith("unhealthy:"), reason


def test_a_fresh_archive_is_starting_during_the_grace_period(store: Store, settings: Settings) -> None:
    failed = store.start_run("cycle", {})
    store.finish_run(failed, status="failed", counters={}, error="site unreachable")
    clock = Clock()
    daemon = Daemon(settings, store=AsyncStore(store), clock=clock)
    ok, reason = asyncio.run(daemon.health())
    assert ok and reason.startswith("starting:"), reason
    clock.now += timedelta(minutes=settings.schedule.start_grace_minutes + 1)
    ok, reason = asyncio.run(daemon.health())
    assert not ok and reason.startswith("unhealthy:"), reason


def test_a_daemon_that_tried_and_failed_is_unhealthy_inside_the_grace(store: Store, settings: Settings) -> None:
    """The grace covers a daemon that has not tried yet; once its cycle failed, /healthz says why
    (the end-to-end test drives the same through a real daemon and an unreachable site)."""
    clock = Clock()
    daemon = Daemon(settings, store=AsyncStore(store), clock=clock)
    assert asyncio.run(daemon.health())[0]
    daemon.last_error = "the last cycle failed at 2026-12-05 09:00 UTC: the site did not answer in time"
    daemon._next_cycle_in(600)
    ok, reason = asyncio.run(daemon.health())
    assert not ok and reason.startswith("unhealthy: the last cycle failed at"), reason
    assert reason.endswith(f"next try at {(clock.now + timedelta(seconds=600)):%Y-%m-%d %H:%M} UTC"), reason
    run = store.start_run("cycle", {})
    store.finish_run(run, status="ok", counters={})  # another daemon's cycle succeeded since
    clock.now += timedelta(seconds=10)  # past the cached read of the recorded success
    assert asyncio.run(daemon.health())[0]
