"""The backfill as a command: a run record, a progress bar on a terminal, log lines elsewhere.

Exit code: 0 when the backfill finished with every URL done; 1 when some URLs were parked as
failed (they stay in the frontier and are reported); 2 when the site did not answer at all (no list
page, no issue page: unreachable, or nothing could be archived); 130 when interrupted by a signal
(a re-run resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import signal
import sys
import time
from collections import Counter
from datetime import date
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from service.config import Settings
from service.crawl.backfill import BackfillRange, Discovery, resume_point, run_backfill
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


def share_politeness(settings: Settings, workers: int) -> Settings:
    """Settings for one of ``workers`` processes. With ``fetch.shared_politeness`` the database keeps
    one budget for them all and each may use all of it; otherwise each gets its share of the
    per-host rate and of the requests in flight, and together they stay within them."""
    if workers <= 1 or settings.fetch.shared_politeness:
        return settings
    fetch = settings.fetch.model_copy(update={
        "requests_per_second": settings.fetch.requests_per_second / workers,
        "concurrency": max(1, math.ceil(settings.fetch.concurrency / workers)),
    })  # fmt: skip
    return settings.model_copy(update={"fetch": fetch})


async def _start_helpers(
    settings: Settings, span: BackfillRange, workers: int
) -> list[asyncio.subprocess.Process]:
    """``workers - 1`` processes that drain the same range from the shared frontier."""
    mine = share_politeness(settings, workers).fetch
    env = {**os.environ, "JINSHAN_FETCH__REQUESTS_PER_SECOND": repr(mine.requests_per_second),
           "JINSHAN_FETCH__CONCURRENCY": str(mine.concurrency), PARENT_ENV: str(os.getpid())}  # fmt: skip
    args = ["-m", "service.cli", "backfill", "--since", span.since.isoformat(), "--until", span.until.isoformat(),
            "--source", span.source, "--drain-only"]  # fmt: skip
    if len(settings.source_files) > 1:
        args += ["--config", settings.source_files[-1]]
    return [
        await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(workers - 1)
    ]


#: the environment variable that tells a helper process the pid of the backfill that started it
PARENT_ENV = "JINSHAN_BACKFILL_PARENT"
#: prctl(2) option: the signal the kernel sends this process when its parent dies
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a helper process: have the kernel send SIGTERM when the backfill that started it dies,
    however it dies (a kill -9 too), so no helper keeps fetching on its own. Linux only (prctl);
    elsewhere the helper ends when it finds nothing more to claim."""
    parent = os.environ.get(PARENT_ENV)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("cannot ask to die with the parent backfill (errno %d)", ctypes.get_errno())
    if str(os.getppid()) != parent:  # it died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)


async def run_backfill_command(settings: Settings, span: BackfillRange, *, workers: int = 1) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not span.discover:
        die_with_parent()
    helpers: list[asyncio.subprocess.Process] = []

    async def start_helpers() -> None:
        if workers > 1 and not stop.is_set():
            helpers.extend(await _start_helpers(settings, span, workers))

    async with open_crawl(share_politeness(settings, workers)) as crawl:
        crawl.harvest = True
        kind = "backfill" if span.discover else "backfill-worker"
        params = {"since": span.since.isoformat(), "until": span.until.isoformat(), "source": span.source}
        found = resume_point(crawl, params) if span.discover else Discovery()
        if found.lists.pages or found.epaper_days:
            log.info("resuming the discovery of an interrupted backfill: %s", found.line())
        crawl.run_id = crawl.store.start_run(kind, params)
        reporter = _Reporter(crawl) if span.discover else None
        try:
            with reporter or contextlib.nullcontext():
                await run_backfill(crawl, span, stop=stop, on_progress=reporter.update if reporter else None,
                                   after_discovery=start_helpers, found=found)  # fmt: skip
            await _wait_helpers(helpers, stop)
        except BaseException as exc:
            for helper in helpers:
                if helper.returncode is None:
                    helper.terminate()
            crawl.store.finish_run(
                crawl.run_id, status="failed", counters=dict(crawl.stats.counts), error=repr(exc)[:500]
            )
            raise
        status = "interrupted" if stop.is_set() else "ok"
        crawl.store.finish_run(crawl.run_id, status=status, counters=dict(crawl.stats.counts))
        if span.discover:
            pending = crawl.store.frontier_counts()
            print(f"backfill {status}: {found.line()}; {summary(dict(crawl.stats.counts))}; frontier: "
                  + " ".join(f"{k}={v}" for k, v in pending.items() if v), file=sys.stderr)  # fmt: skip
        code = exit_code(crawl.stats.counts, stopped=stop.is_set())
    helpers_failed = any(h.returncode == 1 for h in helpers)
    return max(code, 1) if helpers_failed and code == 0 else code


def exit_code(counts: Counter[str], *, stopped: bool) -> int:
    """130 stopped; 2 the site never answered; 1 some URLs failed; 0 all good."""
    if stopped:
        return 130
    answered = counts["list_pages"] + counts["epaper_pages"] + counts["fetched"]
    if answered == 0 and counts["list_failed"] + counts["epaper_failed"] > 0:
        log.error("the site did not answer: no list page nor issue page could be read")
        return 2
    return 1 if counts["failed"] or counts["error"] else 0


async def _wait_helpers(helpers: list[asyncio.subprocess.Process], stop: asyncio.Event) -> None:
    """Wait for the helper processes; a stop is passed on to them."""
    while any(h.returncode is None for h in helpers):
        if stop.is_set():
            for helper in helpers:
                if helper.returncode is None:
                    helper.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(h.wait() for h in helpers)), timeout=0.5)
    for helper in helpers:
        if helper.returncode not in (0, 1, 130):
            log.error(
                "a backfill worker process exited with %s; its URLs stay in the frontier", helper.returncode
            )


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
                TextColumn("[bold]backfill"), BarColumn(), TextColumn("{task.fields[done]}"),
                TextColumn("{task.fields[counts]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True),
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task("backfill", total=None, counts="", done="")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, crawl: Crawl, found: Discovery) -> None:
        """While discovering: list pages read, the date reached, URLs found; then the fetching."""
        counts = dict(crawl.stats.counts)
        done = sum(
            counts.get(k, 0)
            for k in ("new", "changed", "duplicate", "unchanged", "not_article", "failed", "gone", "refused")
        )
        total = max(counts.get("discovered", 0), found.lists.found, done)
        line = f"{found.line()}; {summary(counts)}"
        if self.progress is not None:
            self.progress.update(self.task, completed=done, total=total or None, counts=line,
                                 done=f"{done}/{total}" if total else "discovering")  # fmt: skip
        elif time.monotonic() - self.last_log >= LOG_EVERY_S:
            self.last_log = time.monotonic()
            log.info("backfill progress: %s", line)


def run_reparse_command(
    settings: Settings, *, since: date | None, until: date | None, workers: int | None = None
) -> int:
    """``jinshan reparse``: a progress bar on a terminal, the counts at the end (a line on stderr, a
    JSON object on stdout). Exit code: 0 when every item was re-read, 1 when some failed, 130 when
    interrupted (a re-run resumes)."""
    from service.crawl.reparse import COUNTS, reparse
    from service.crawl.wiring import open_store

    stopped = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    store = open_store(settings)
    bar: Progress | None = None
    task: Any = None
    last_log = 0.0

    def report(progress: Any) -> None:
        nonlocal bar, task, last_log
        done = sum(progress.counts.values())
        line = " ".join(f"{k}={progress.counts.get(k, 0)}" for k in COUNTS if progress.counts.get(k))
        if sys.stderr.isatty():
            if bar is None:
                bar = Progress(TextColumn("[bold]reparse"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                               TextColumn("{task.fields[counts]}"), TimeRemainingColumn(), console=Console(stderr=True))  # fmt: skip
                bar.start()
                task = bar.add_task("reparse", total=progress.total, counts="")
            bar.update(task, completed=done, counts=line)
        elif time.monotonic() - last_log >= LOG_EVERY_S:
            last_log = time.monotonic()
            log.info("reparse progress: %d/%d %s", done, progress.total, line)

    try:
        result = reparse(settings, store, since=since, until=until, workers=workers,
                         should_stop=lambda: stopped, on_progress=report)  # fmt: skip
    finally:
        if bar is not None:
            bar.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = {k: result.counts.get(k, 0) for k in COUNTS}
    status = "interrupted" if stopped else "done"
    print(f"reparse {status}: " + " ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    print(json.dumps({"status": status, **counts}))
    return 130 if stopped else 1 if counts["failed"] else 0
