"""The backfill as a command: a run record, a progress bar on a terminal, log lines elsewhere.

Exit code: 0 when the backfill finished (URLs that failed stay in the frontier and are reported),
130 when interrupted by a signal (a re-run resumes).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from service.config import Settings
from service.crawl.backfill import BackfillRange, run_backfill
from service.crawl.pipeline import Crawl
from service.crawl.wiring import open_crawl

log = logging.getLogger(__name__)

#: seconds between progress log lines when stderr is not a terminal
LOG_EVERY_S = 10.0
_SHOWN = (
    "discovered",
    "fetched",
    "new",
    "changed",
    "duplicate",
    "unchanged",
    "not_article",
    "retry",
    "failed",
)


def summary(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={counts.get(k, 0)}" for k in _SHOWN)


async def run_backfill_command(settings: Settings, span: BackfillRange) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_crawl(settings) as crawl:
        params = {"since": span.since.isoformat(), "until": span.until.isoformat(), "source": span.source}
        crawl.run_id = crawl.store.start_run("backfill", params)
        reporter = _Reporter(crawl)
        try:
            with reporter:
                await run_backfill(crawl, span, stop=stop, on_progress=reporter.update)
        except BaseException as exc:
            crawl.store.finish_run(
                crawl.run_id, status="failed", counters=dict(crawl.stats.counts), error=repr(exc)[:500]
            )
            raise
        status = "interrupted" if stop.is_set() else "ok"
        crawl.store.finish_run(crawl.run_id, status=status, counters=dict(crawl.stats.counts))
        pending = crawl.store.frontier_counts()
        print(f"backfill {status}: {summary(dict(crawl.stats.counts))}; frontier: "
              + " ".join(f"{k}={v}" for k, v in pending.items() if v), file=sys.stderr)  # fmt: skip
    return 130 if stop.is_set() else 0


class _Reporter:
    """A rich progress bar when stderr is a terminal; otherwise a log line every LOG_EVERY_S."""

    def __init__(self, crawl: Crawl) -> None:
        self.crawl = crawl
        self.tty = sys.stderr.isatty()
        self.progress: Progress | None = None
        self.task: Any = None
        self.last_log = 0.0

    def __enter__(self) -> _Reporter:
        if self.tty:
            self.progress = Progress(
                TextColumn("[bold]backfill"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task("backfill", total=None, counts="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, crawl: Crawl) -> None:
        counts = dict(crawl.stats.counts)
        done = sum(
            counts.get(k, 0)
            for k in ("new", "changed", "duplicate", "unchanged", "not_article", "failed", "gone", "refused")
        )
        if self.progress is not None:
            total = max(counts.get("discovered", 0), done)
            self.progress.update(self.task, completed=done, total=total or None, counts=summary(counts))
        elif time.monotonic() - self.last_log >= LOG_EVERY_S:
            self.last_log = time.monotonic()
            log.info("backfill progress: %s", summary(counts))
