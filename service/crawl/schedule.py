"""When a stored article is checked next: the revisits of its first week, then the sweep of the back
catalogue at growing ages, for as long as it exists. Plain decisions over times, no I/O.

Every check is scheduled from the article's *anchor*: its publication time, or its first-seen time
when the page gives none (``urls.published_at``). Whatever a check answered (200 the same, 200
changed, 304), the next one comes from the anchor, never from the day or the time of the check, so a
304 cannot shift the schedule.

Ages, by default: 1 h, 6 h, 24 h and 7 days (``schedule.revisit_hours``: "first week"), then 30 and 90
days (``schedule.sweep_ages_days``), then every 180 days (``schedule.sweep_every_days``). Sweep checks
get a lower claim priority than new URLs and first-week revisits (``SWEEP_PRIORITY``), so a claim
takes them only when nothing fresher is due, and ``SweepBudget`` keeps them within
``schedule.sweep_share`` of the request budget. An article that enters the schedule late (a backfill,
an old page found by a link) has its first sweep check spread over the time until its natural one
by a hash of its URL id over the next period, not all at once.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.settings import ScheduleSettings, Settings
from service.store import RESOURCE_PRIORITY

#: claim priority of new URLs and first-week revisits (the frontier's default)
FRESH_PRIORITY = 0
#: claim priority of a sweep check: taken after every fresher due URL
SWEEP_PRIORITY = -1
#: claim priority of a check asked for by ``jinshan recheck``: its own claims take only these; the
#: daemon treats them as sweep checks (an interrupted recheck's articles stay on schedule)
RECHECK_PRIORITY = -2
#: the claim band of fresh URLs only (a drain whose sweep budget is spent)
FRESH_ONLY = (FRESH_PRIORITY, FRESH_PRIORITY)
#: the claim band of the resources of captured pages (photos, stylesheets): after the pages, before
#: any sweep check, and outside the sweep's budget (they complete captures of new pages)
RESOURCES_ONLY = (RESOURCE_PRIORITY, RESOURCE_PRIORITY)
#: what a drain claims whatever the sweep budget says, in order
UNMETERED = [FRESH_ONLY, RESOURCES_ONLY]
#: the priorities a drain claims, in order, one at a time: a claim of a single priority reads the
#: claim index from that priority's first due URL and stops at its first URL not due yet
LEVELS = (FRESH_PRIORITY, RESOURCE_PRIORITY, SWEEP_PRIORITY, RECHECK_PRIORITY)


def is_sweep(priority: int) -> bool:
    """Whether a claimed URL of ``priority`` is a sweep check (spends the sweep's budget)."""
    return priority in (SWEEP_PRIORITY, RECHECK_PRIORITY)


#: sweep checks of one age are spread over this much time by a hash of the URL id (articles of one
#: e-paper issue share a publication instant: they would fall due in one lump), at most
SWEEP_JITTER = timedelta(days=1)
#: and at most this share of the age (a compressed schedule keeps its shape)
JITTER_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class Check:
    """The next check of an article: when, and whether it belongs to the sweep."""

    due_at: datetime
    sweep: bool
    #: past the last fixed age: one of the checks every ``sweep_every_days``
    periodic: bool = False

    @property
    def priority(self) -> int:
        return SWEEP_PRIORITY if self.sweep else FRESH_PRIORITY


def spread(url_id: int, salt: str = "") -> float:
    """A fraction in [0, 1) fixed by ``url_id`` (and ``salt``): the same on every run and machine."""
    digest = hashlib.blake2b(f"{salt}:{url_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def sweep_ages(sched: ScheduleSettings) -> list[float]:
    """The fixed sweep ages in days, after the last first-week revisit, in order."""
    last = max(sched.revisit_hours, default=0) / 24
    return sorted(d for d in set(sched.sweep_ages_days) if d > last)


def natural_check(anchor: datetime, now: datetime, sched: ScheduleSettings, *, url_id: int) -> Check:
    """The first check after ``now`` by the article's age: a first-week revisit (anchor + hours), a
    sweep age (anchor + days + jitter), or the next multiple of ``sweep_every_days`` past the last age."""
    for hours in sorted(sched.revisit_hours):
        due = anchor + timedelta(hours=hours)
        if due > now:
            return Check(due, sweep=False)
    ages = sweep_ages(sched)
    first = ages[0] if ages else sched.sweep_every_days
    jitter = min(SWEEP_JITTER, timedelta(days=first * JITTER_SHARE)) * spread(url_id, "jitter")
    for days in ages:
        due = anchor + timedelta(days=days) + jitter
        if due > now:
            return Check(due, sweep=True)
    last = ages[-1] if ages else max(sched.revisit_hours, default=0) / 24
    every = sched.sweep_every_days
    age = (now - anchor - jitter) / timedelta(days=1)
    k = max(1, math.floor((age - last) / every) + 1)
    due = anchor + timedelta(days=last + k * every) + jitter
    while due <= now:  # float rounding at the boundary
        due += timedelta(days=every)
    return Check(due, sweep=True, periodic=True)


def next_check(
    anchor: datetime | None, now: datetime, sched: ScheduleSettings, *, url_id: int, entering: bool = False
) -> Check | None:
    """When the article of ``url_id`` is checked next; None without an anchor (nothing to age from).

    ``entering``: the article was just stored for the first time. When it is already past the fixed
    ages (a backfilled article, or an old one found late), its first re-check is put at a point of
    the next ``sweep_every_days`` fixed by the URL id: a backfill of a million articles becomes due
    evenly over the period, not all at once (nor bunched at its start), and every article is
    re-checked within the period. Younger ones keep their fixed ages, spread by their publication
    times already."""
    if anchor is None:
        return None
    check = natural_check(anchor, now, sched, url_id=url_id)
    if entering and check.periodic:
        period = timedelta(days=sched.sweep_every_days)
        return Check(now + period * spread(url_id, "enter"), sweep=True, periodic=True)
    return check


class SweepBudget:
    """How many sweep checks a process may claim: a token bucket filled at ``schedule.sweep_share``
    of ``fetch.requests_per_second``, holding at most one poll interval's worth (the sweep's quota per
    cycle). While it is empty the drain claims fresh URLs and resources only (``UNMETERED``)."""

    def __init__(
        self, *, per_second: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.per_second, self.burst, self.clock = per_second, burst, clock
        self.tokens = burst
        self.at = clock()

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> SweepBudget:
        rate = settings.schedule.sweep_share * settings.fetch.requests_per_second
        # at least one check: below it, a slow rate would never let the sweep claim anything
        return cls(per_second=rate, burst=max(1.0, rate * settings.schedule.poll_minutes * 60), clock=clock)

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now

    def open(self) -> bool:
        """Whether a claim may take sweep checks now."""
        self._refill()
        return self.tokens >= 1

    def spend(self, n: int) -> None:
        """``n`` sweep checks were claimed (a claim's batch may overdraw: the debt is paid first)."""
        self._refill()
        self.tokens -= n

    def bands(self) -> list[tuple[int, int]]:
        """The priorities a claim takes, in order, one at a time: every level while sweep checks may
        be taken, else fresh URLs only."""
        return [(p, p) for p in LEVELS] if self.open() else list(UNMETERED)
