"""A year of the daemon's frontier on a fake clock: the real claims (``Store.claim_due`` with the
sweep's priority band), the real schedule (``crawl.schedule``) and budget, time injected, no
network and no waiting. Each article is checked at the configured ages, a backfilled catalogue
enters over one period, and the sweep stays within its share of the request budget."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.crawl.schedule import FRESH_PRIORITY, SWEEP_JITTER, SweepBudget, is_sweep, next_check
from service.settings import DatabaseSettings, DedupSettings, Settings, load_settings
from service.store import NewUrl, db
from service.store.repo import Store
from service.store.schema import urls

T0 = datetime(2026, 1, 1, tzinfo=UTC)
YEAR = timedelta(days=365)
STEP = timedelta(minutes=20)
#: claims of 8, as the drain takes them
BATCH = 8


@dataclass
class Sim:
    """The frontier of one daemon over a year; ``checks[url_id]`` = (time, sweep?) of each fetch."""

    store: Store
    settings: Settings
    now: datetime = T0
    anchors: dict[int, datetime] = field(default_factory=dict)
    checks: dict[int, list[tuple[datetime, bool]]] = field(default_factory=lambda: defaultdict(list))
    seen: set[int] = field(default_factory=set)
    #: claims that took a sweep check while a fresh URL was due
    overtaken: int = 0

    def __post_init__(self) -> None:
        self.budget = SweepBudget.from_settings(self.settings, clock=lambda: (self.now - T0).total_seconds())
        self.per_step = self.settings.fetch.requests_per_second * STEP.total_seconds()
        self.carry = 0.0

    def publish(self, articles: list[tuple[datetime, datetime]]) -> None:
        """Articles (published at, found at): in the frontier, due when found."""
        items = [NewUrl(f"https://www.jsw.com.cn/2026/0101/{n + 1}.shtml", "article", None, found)
                 for n, (_, found) in enumerate(articles)]  # fmt: skip
        self.store.add_urls(items)
        with self.store.engine.connect() as conn:
            ids = dict(conn.execute(select(urls.c.url_key, urls.c.id)).all())
        for item, (at, _) in zip(items, articles, strict=True):
            self.anchors[ids[self.store.key(item.url)]] = at

    def step(self) -> None:
        """One step: as many requests as the budget's rate allows, fresh URLs first."""
        self.carry += self.per_step
        while self.carry >= 1:
            batch = []
            for band in self.budget.bands():  # one priority at a time, as the drain claims
                batch += self.store.claim_due(limit=min(BATCH, int(self.carry)) - len(batch), now=self.now,
                                              lease_s=60, worker="sim", priorities=band)  # fmt: skip
                if len(batch) >= min(BATCH, int(self.carry)):
                    break
            if not batch:
                break
            swept = sum(1 for item in batch if is_sweep(item.priority))
            self.budget.spend(swept)
            if swept and self.fresh_waiting():
                self.overtaken += 1
            for item in batch:
                self.check(item.id, sweep=item.priority < FRESH_PRIORITY)
            self.carry -= len(batch)
        self.carry = min(self.carry, self.per_step)  # an idle step does not save requests for later
        self.now += STEP
        if self.carry >= 1:  # nothing was left to claim: on to the step of the next due URL
            with self.store.engine.connect() as conn:
                due = conn.execute(select(func.min(urls.c.due_at))).scalar()
            if due is not None and due > self.now:
                self.now += STEP * ((due - self.now) // STEP)

    def fresh_waiting(self) -> int:
        """Fresh URLs due and not claimed: a claim that took a sweep check meanwhile overtook them."""
        with self.store.engine.connect() as conn:
            q = select(func.count()).where(urls.c.priority >= FRESH_PRIORITY, urls.c.due_at <= self.now,
                                           urls.c.state != "fetching")  # fmt: skip
            return int(conn.execute(q).scalar_one())

    def check(self, url_id: int, *, sweep: bool) -> None:
        """A fetch that answered (whatever it answered): the next check from the anchor."""
        anchor = self.anchors[url_id]
        entering = url_id not in self.seen
        self.seen.add(url_id)
        self.checks[url_id].append((self.now, sweep))
        nxt = next_check(anchor, self.now, self.settings.schedule, url_id=url_id, entering=entering)
        assert nxt is not None
        self.store.finish_url(url_id, state="done", next_due_at=nxt.due_at, priority=nxt.priority,
                              published_at=anchor)  # fmt: skip


def _year(tmp_path: Path, *, rate: float, backfilled: int, per_day: int) -> Sim:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'year.db'}"))
    db.upgrade(engine)
    settings = load_settings(environ={}, overrides={"fetch": {"requests_per_second": rate}})
    sim = Sim(Store(engine, DedupSettings()), settings)
    rng = random.Random(3)
    # the backfill: a catalogue of one to six years old, all found at the start
    articles = [(T0 - timedelta(days=rng.uniform(365, 6 * 365)), T0) for _ in range(backfilled)]
    day = T0
    while day < T0 + YEAR:  # then ``per_day`` new articles a day, each found 5 minutes after it appeared
        for _ in range(per_day):
            at = day + timedelta(hours=rng.uniform(0, 24))
            articles.append((at, at + timedelta(minutes=5)))
        day += timedelta(days=1)
    sim.publish(articles)
    while sim.now < T0 + YEAR:
        sim.step()
    return sim


def _ages(sim: Sim, url_id: int) -> list[timedelta]:
    return [at - sim.anchors[url_id] for at, _ in sim.checks[url_id]]


@pytest.fixture(scope="module")
def ample(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    """A budget the work fits in (0.01 requests/s: 864 a day, 130 of them for the sweep)."""
    return _year(tmp_path_factory.mktemp("ample"), rate=0.01, backfilled=600, per_day=2)


def test_each_new_article_is_checked_at_the_configured_ages(ample: Sim) -> None:
    sched = ample.settings.schedule
    wanted = [timedelta(hours=h) for h in sched.revisit_hours] + [
        timedelta(days=d) for d in (*sched.sweep_ages_days, sched.sweep_ages_days[-1] + sched.sweep_every_days)
    ]
    # past the first days, when the backfill's own fetches take the whole budget
    fresh = [i for i, at in ample.anchors.items() if at >= T0 + timedelta(days=5)]
    assert len(fresh) >= 2 * 355
    for url_id in fresh:
        ages = _ages(ample, url_id)
        assert timedelta(minutes=5) <= ages[0] <= timedelta(minutes=5) + STEP, ages[0]  # the first fetch
        due = [w for w in wanted if ample.anchors[url_id] + w < T0 + YEAR - STEP - SWEEP_JITTER]
        late = [w for w in wanted if ample.anchors[url_id] + w >= T0 + YEAR]
        assert len(ages) - 1 >= len(due) and len(ages) - 1 <= len(wanted) - len(late)
        for got, age in zip(ages[1:], due, strict=False):
            slack = STEP if age < timedelta(days=8) else STEP + SWEEP_JITTER
            assert age <= got <= age + slack, (url_id, age, got)


def test_the_backfilled_catalogue_enters_over_one_period_then_every_period(ample: Sim) -> None:
    period = timedelta(days=ample.settings.schedule.sweep_every_days)
    old = [i for i, at in ample.anchors.items() if at < T0]
    firsts = []
    for url_id in old:
        times = [at for at, _ in ample.checks[url_id]]
        assert times[0] < T0 + timedelta(days=1)  # the backfill's own fetch (600 at 864 a day)
        assert len(times) >= 2 and times[1] <= times[0] + period + STEP, "first re-check within the period"
        assert all(b - a <= period + SWEEP_JITTER + STEP for a, b in itertools.pairwise(times[1:]))
        firsts.append(times[1])
    # spread: no month of the period takes more than twice its share of the first re-checks
    months = defaultdict(int)
    for at in firsts:
        months[(at - T0).days // 30] += 1
    assert max(months.values()) <= 2 * len(old) * 30 / period.days, dict(months)


def test_the_sweep_stays_within_its_share(tmp_path: Path) -> None:
    """A budget too small for all of it (0.0005 requests/s: 43 a day, 6.5 for the sweep): the sweep
    takes its share and no more, and it never goes before a new article or a first-week revisit."""
    sim = _year(tmp_path, rate=0.0005, backfilled=600, per_day=2)
    share = sim.settings.schedule.sweep_share
    capacity_per_day = sim.settings.fetch.requests_per_second * 86400
    by_month: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for checks in sim.checks.values():
        for at, sweep in checks:
            by_month[(at - T0).days // 30][1 if sweep else 0] += 1
    for month, (_, sweep) in sorted(by_month.items()):
        # its share of 30 days' requests, plus the bucket's burst and one claim's overdraw
        assert sweep <= share * capacity_per_day * 30 + sim.budget.burst + BATCH, (month, sweep)
    total_sweep = sum(s for _, s in by_month.values())
    assert total_sweep >= 0.8 * share * capacity_per_day * 365, "the sweep used its share (it had work)"
    assert sim.overtaken == 0, "a sweep check was claimed while a new article or a revisit was due"
