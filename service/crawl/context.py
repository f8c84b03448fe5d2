"""What a crawl works with, split by lifetime.

``CrawlContext`` is fixed for the life of a process: settings, the store (an ``AsyncStore``: every
database call of the crawl is awaited, off the event loop), the fetcher, the metrics, the worker's
name. ``CrawlRun`` belongs to one run (a daemon cycle, a backfill, one tick of the
daemon's interval drain): its run id, its counters, the URLs it handed to the frontier, a host's
request to wait. Jobs that run side by side (the daemon's cycle and its interval drain) each have
their own run, so counts and fetch rows land in the run that did the work.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.crawl.discover import StoreFrontier
from service.crawl.metrics import Metrics
from service.crawl.schedule import SweepBudget
from service.model import Article
from service.settings import Settings
from service.store import AsyncStore

#: the fields whose fill rates the template-change alarm watches
WATCHED_FIELDS = ("title", "published_at", "body_text", "reporters", "editors")


@dataclass
class CycleStats:
    """Counters of one run, and what the template-change alarm needs of its articles."""

    counts: Counter[str] = field(default_factory=Counter)
    extracted: int = 0
    filled: Counter[str] = field(default_factory=Counter)
    generic_fields: int = 0
    all_fields: int = 0

    def observe(self, article: Article) -> None:
        self.extracted += 1
        data = article.to_json()
        for name in WATCHED_FIELDS:
            if data.get(name):
                self.filled[name] += 1
        self.all_fields += len(article.fields_from)
        self.generic_fields += sum(1 for layer in article.fields_from.values() if layer == "generic")

    def rates(self) -> dict[str, float]:
        """Fill rate per watched field and the share of fields filled by the generic layer."""
        if not self.extracted:
            return {}
        out = {name: self.filled[name] / self.extracted for name in WATCHED_FIELDS}
        out["generic_share"] = self.generic_fields / self.all_fields if self.all_fields else 0.0
        return out


@dataclass(frozen=True)
class CrawlContext:
    """What every run of one process shares; built once by ``app.wiring.open_crawl``."""

    settings: Settings
    store: AsyncStore
    fetcher: Any  # service.fetch.client.Fetcher, or any object with the same ``fetch``
    metrics: Metrics
    worker: str
    #: where discovery puts URLs: the store's frontier, with aliases of known articles resolved
    frontier: StoreFrontier = field(init=False)
    #: how many sweep checks this process may still claim (None: no limit); see ``crawl.schedule``
    sweep: SweepBudget | None = None
    #: ids of URLs this process claimed and could not hand back because the database failed: they
    #: go back (due now, no attempt counted) as soon as it answers (``drain.hand_back_stranded``)
    stranded: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        object.__setattr__(self, "frontier", StoreFrontier(self.store, self.settings.profile))

    def run(self, run_id: int | None = None, *, harvest: bool = False) -> CrawlRun:
        """A new run in this process (``run_id``: its record in the runs table, if it has one)."""
        return CrawlRun(self, run_id=run_id, harvest=harvest)


@dataclass
class CrawlRun:
    """One run's state. The process's pieces are read through it (``run.store``), so a stage takes
    one argument and cannot mix the counters of one run with the fetch rows of another."""

    context: CrawlContext
    run_id: int | None = None
    #: take article links from article pages (the backfill does; the daemon's lists already show news)
    harvest: bool = False
    stats: CycleStats = field(default_factory=CycleStats)
    rng: random.Random = field(default_factory=random.Random)
    #: article URLs already handed to the frontier by the harvest (bounded by ``pipeline.HARVEST_MEMORY``)
    harvested: set[str] = field(default_factory=set)
    #: set when a host asked us to wait: workers pause until then instead of spinning on the frontier
    defer_until: datetime | None = None

    @property
    def settings(self) -> Settings:
        return self.context.settings

    @property
    def store(self) -> AsyncStore:
        return self.context.store

    @property
    def fetcher(self) -> Any:
        return self.context.fetcher

    @property
    def metrics(self) -> Metrics:
        return self.context.metrics

    @property
    def worker(self) -> str:
        return self.context.worker

    @property
    def frontier(self) -> StoreFrontier:
        return self.context.frontier

    @property
    def stranded(self) -> set[int]:
        return self.context.stranded

    def count(self, name: str, n: int = 1) -> None:
        self.stats.counts[name] += n
