"""``jinshan backfill --since … [--until …] [--source …] [--workers N]``: the past, by date.

A run record, a progress bar on a terminal (log lines elsewhere), and ``--workers`` helper
processes that drain the same range from the shared frontier once the discovery is done.

Exit code: 0 when the backfill finished with every URL done; 1 when some URLs were parked as
failed (they stay in the frontier and are reported), or wait for a host that is still held off
(a 429 or 503 with a long Retry-After, a block page; the summary names each hold and its end); 2 when the site did not answer at all (no list
page, no issue page: unreachable, or nothing could be archived); 130 when interrupted by a signal
(a re-run resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
from collections import Counter
from typing import TYPE_CHECKING, Annotated

import typer

from service.app.commands.common import ConfigOpt, LogFormatOpt, configure, database_failure, fail, parse_date
from service.app.signals import STOP_SIGNALS
from service.errors import StoreError
from service.settings import Settings, redact_url

if TYPE_CHECKING:  # the crawl is imported when a backfill runs, not for `jinshan --help`
    from service.crawl.backfill import BackfillRange, Discovery
    from service.crawl.context import CrawlRun
    from service.fetch.client import Hold

#: the values of ``--source``
SOURCES = ("site", "epaper", "all")

log = logging.getLogger(__name__)

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
    "not_archived",
)
_DONE = ("new", "changed", "duplicate", "unchanged", "not_article", "failed", "gone", "refused")
#: the reasons of a hold on a host, in words
HOLD_REASONS = {
    "rate_limited": "429 Too Many Requests, Retry-After",
    "http_5xx": "503 with Retry-After",
    "blocked": "a block or captcha page",
    "robots_unavailable": "robots.txt unreachable",
}
#: the environment variable that tells a helper process the pid of the backfill that started it
PARENT_ENV = "JINSHAN_BACKFILL_PARENT"
#: prctl(2) option: the signal the kernel sends this process when its parent dies
_PR_SET_PDEATHSIG = 1


def backfill(
    since: Annotated[str, typer.Option(help="First date, YYYY-MM-DD (inclusive).")],
    until: Annotated[
        str | None, typer.Option(help="Last date, YYYY-MM-DD (inclusive); default today.")
    ] = None,
    source: Annotated[str, typer.Option(help="site, epaper or all.")] = "all",
    workers: Annotated[
        int,
        typer.Option(min=1, max=16, help="Processes that fetch at once; they share the politeness limits."),
    ] = 1,
    drain_only: Annotated[bool, typer.Option("--drain-only", hidden=True)] = False,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Walk the past by date, resumable: a re-run continues where the last one stopped."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from service.crawl.backfill import BackfillRange

    settings = configure(config, log_format)
    first = parse_date(since, "--since")
    last = parse_date(until, "--until") if until else None
    if source not in SOURCES:
        fail(f"--source must be one of {', '.join(SOURCES)}")
    last = last or datetime.now(ZoneInfo(settings.schedule.timezone)).date()
    if last < first:
        fail("--until is before --since")
    try:
        span = BackfillRange(first, last, source, discover=not drain_only)
        code = asyncio.run(run_backfill_command(settings, span, workers=1 if drain_only else workers))
    except StoreError as exc:
        database_failure(exc, settings)
    raise typer.Exit(code)


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
    args = ["-m", "service", "backfill", "--since", span.since.isoformat(), "--until", span.until.isoformat(),
            "--source", span.source, "--drain-only"]  # fmt: skip
    if len(settings.source_files) > 1:
        args += ["--config", settings.source_files[-1]]
    return [
        await asyncio.create_subprocess_exec(
            sys.executable, *args, env=env, stdout=asyncio.subprocess.DEVNULL
        )
        for _ in range(workers - 1)
    ]


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
    from service.app.render import ProgressLine
    from service.app.wiring import open_crawl
    from service.crawl.backfill import Discovery, resume_point, run_backfill

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    if not span.discover:
        die_with_parent()
    helpers: list[asyncio.subprocess.Process] = []

    async def start_helpers() -> None:
        if workers > 1 and not stop.is_set():
            helpers.extend(await _start_helpers(settings, span, workers))

    async with open_crawl(share_politeness(settings, workers)) as context:
        kind = "backfill" if span.discover else "backfill-worker"
        params = {"since": span.since.isoformat(), "until": span.until.isoformat(), "source": span.source}
        found = await resume_point(context.store, params) if span.discover else Discovery()
        if found.lists.pages or found.epaper_days:
            log.info("resuming the discovery of an interrupted backfill: %s", found.line())
        run_id = await context.store.start_run(kind, params)
        run = context.run(run_id, harvest=True)
        progress = ProgressLine("backfill", elapsed=True) if span.discover else None

        def report(run: CrawlRun, found: Discovery) -> None:
            if progress is not None:
                counts = dict(run.stats.counts)
                done = sum(counts.get(k, 0) for k in _DONE)
                total = max(counts.get("discovered", 0), found.lists.found, done)
                progress.update(done, total or None, f"{found.line()}; {summary(counts)}")

        lost: StoreError | None = None
        try:
            with progress or contextlib.nullcontext():
                await run_backfill(run, span, stop=stop, on_progress=report, after_discovery=start_helpers,
                                   found=found)  # fmt: skip
            await _wait_helpers(helpers, stop)
        except StoreError as exc:  # the database's fault, not the URLs': they go back when it answers
            lost = exc
            _stop_helpers(helpers)
        except BaseException as exc:
            _stop_helpers(helpers)
            with contextlib.suppress(StoreError):
                await run.store.finish_run(
                    run_id, status="failed", counters=dict(run.stats.counts), error=repr(exc)[:500]
                )
            raise
        if lost is not None:
            return await _database_lost(run, run_id, lost, settings, stop)
        failure = context.fetcher.archive_failure
        status = "interrupted" if stop.is_set() else "failed" if failure else "ok"
        error = f"the archive could not be written: {failure}" if failure else None
        await run.store.finish_run(run_id, status=status, counters=dict(run.stats.counts), error=error)
        holds = context.fetcher.holds()
        if span.discover:
            pending = await run.store.frontier_counts()
            print(f"backfill {status}: {found.line()}; {summary(dict(run.stats.counts))}; frontier: "
                  + " ".join(f"{k}={v}" for k, v in pending.items() if v) + held_line(holds), file=sys.stderr)  # fmt: skip
        code = exit_code(run.stats.counts, stopped=stop.is_set(), held=bool(holds))
        if failure is not None and code != 130:
            code = _archive_full(failure, run.stats.counts)
    helpers_failed = any(h.returncode == 1 for h in helpers)
    return max(code, 1) if helpers_failed and code == 0 else code


def _stop_helpers(helpers: list[asyncio.subprocess.Process]) -> None:
    for helper in helpers:
        if helper.returncode is None:
            helper.terminate()


#: how long a backfill whose database failed keeps trying to hand back its URLs and close its run
#: (a PostgreSQL restart takes a few seconds), seconds
RECOVER_S = 30.0


async def _database_lost(
    run: CrawlRun, run_id: int, exc: StoreError, settings: Settings, stop: asyncio.Event
) -> int:
    """The database failed under the backfill: say so in one line, then, while it comes back within
    ``RECOVER_S`` (a stop ends the wait), hand back the URLs in hand (no attempt counted) and close
    the run "interrupted". The exit code: 2 when nothing was stored, else 1 (not all archived)."""
    from service.app.commands.common import one_line

    where = redact_url(settings.database.url)
    counts = run.stats.counts
    stored = sum(counts[k] for k in ("new", "changed", "duplicate", "unchanged", "not_article"))
    closed = False
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + RECOVER_S, 0.5
    while not stop.is_set() and (left := deadline - loop.time()) > 0:
        try:
            await asyncio.wait_for(_close_interrupted(run, run_id, exc), left)
            closed = True
            break
        except (StoreError, TimeoutError):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(pause, max(deadline - loop.time(), 0)))
            pause = min(pause * 2, 5.0)
    after = ("its URLs are back in the frontier; a re-run resumes" if closed
             else "a re-run resumes once it answers (URLs still leased go back then)")  # fmt: skip
    print(f"backfill interrupted: database {where} failed: {one_line(str(exc))}; {summary(dict(counts))}; {after}",
          file=sys.stderr)  # fmt: skip
    return 2 if stored == 0 else 1


async def _close_interrupted(run: CrawlRun, run_id: int, exc: StoreError) -> None:
    from service.app.commands.common import one_line
    from service.crawl.drain import hand_back_stranded

    await hand_back_stranded(run)
    await run.store.finish_run(run_id, status="interrupted", counters=dict(run.stats.counts),
                               error=f"database: {one_line(str(exc))}"[:500])  # fmt: skip


def held_line(holds: list[Hold]) -> str:
    """The holds on hosts still in force, for the summary ("" when none): URLs of those hosts wait
    in the frontier until then, and a re-run before that fetches none of them."""
    if not holds:
        return ""
    named = ", ".join(f"{h.host} until {h.until.isoformat(timespec='seconds')} ({HOLD_REASONS.get(h.reason, h.reason)})"
                      for h in holds)  # fmt: skip
    return f"; held off: {named}"


def _archive_full(failure: str, counts: Counter[str]) -> int:
    """The one-line error of a backfill the archive stopped; 2 when nothing could be stored, else 1."""
    stored = sum(counts[k] for k in ("new", "changed", "duplicate", "unchanged"))
    print(f"error: the WARC archive could not be written ({failure}); pages not archived wait in the "
          f"frontier (not_archived={counts['not_archived']}): free space and run the backfill again",
          file=sys.stderr)  # fmt: skip
    return 1 if stored else 2


def exit_code(counts: Counter[str], *, stopped: bool, held: bool = False) -> int:
    """130 stopped; 2 the site never answered; 1 some URLs failed, or wait for a host that is held
    off (``held``) past the end of the run; 0 all good."""
    if stopped:
        return 130
    answered = counts["list_pages"] + counts["epaper_pages"] + counts["fetched"]
    if answered == 0 and counts["list_failed"] + counts["epaper_failed"] > 0:
        log.error("the site did not answer: no list page nor issue page could be read")
        return 2
    if held and (counts["deferred"] or counts["retry"]):
        log.error("URLs of a held-off host were not archived: they wait in the frontier (see the summary)")
        return 1
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
