"""``jinshan recheck [--since …] [--until …] [--channel …] [--gone]``: stored articles checked again now.

A progress bar on a terminal (log lines elsewhere), the summary at the end (a line on stderr, a
JSON object on stdout). Exit code: 0 when every article was checked; 1 when some could not be
(they stay due, and a re-run resumes); 2 when it could not run (a bad option, the database, or a
site that answered nothing at all); 130 when interrupted by a signal (a re-run resumes).
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from service.app.commands.common import (
    ConfigOpt,
    LogFormatOpt,
    configure,
    database_failure,
    fail,
    optional_date,
)
from service.app.signals import STOP_SIGNALS
from service.errors import StoreError
from service.settings import Settings

if TYPE_CHECKING:  # the crawl is imported when a recheck runs, not for `jinshan --help`
    from service.crawl.recheck import RecheckSpec


def recheck(
    since: Annotated[str | None, typer.Option(help="Only articles published on or after this date.")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on or before this date.")] = None,
    channel: Annotated[
        str | None, typer.Option(help="Only articles of this channel (as the archive names it).")
    ] = None,
    gone: Annotated[
        bool, typer.Option("--gone", help="Re-check the articles marked gone instead: did they come back?")
    ] = False,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Re-check stored articles now, politely (conditional requests, the shared rate limit).

    A change is stored as a new version, a 404/410 marks the article gone, a gone one that answers
    again is no longer gone. May run beside the daemon; resumable. Exit 0 when all were checked, 1
    when some could not be.
    """
    from service.crawl.recheck import RecheckSpec

    settings = configure(config, log_format)
    first, last = optional_date(since, "--since"), optional_date(until, "--until")
    if first and last and last < first:
        fail("--until is before --since")
    spec = RecheckSpec(first, last, channel or None, gone)
    try:
        code = asyncio.run(run_recheck_command(settings, spec))
    except StoreError as exc:
        database_failure(exc, settings)
    raise typer.Exit(code)


async def run_recheck_command(settings: Settings, spec: RecheckSpec) -> int:
    """The recheck with its run record, progress and summary; the exit code."""
    from service.app.render import ProgressLine
    from service.app.wiring import open_crawl
    from service.crawl.context import CrawlRun
    from service.crawl.recheck import SUMMARY, resume_from, run_recheck, summary
    from service.crawl.schedule import RECHECK_PRIORITY

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    async with open_crawl(settings) as context:
        began = await context.store.read(resume_from, context.store.sync, spec)
        if began is not None:
            print(f"resuming the recheck begun at {began.isoformat(timespec='seconds')}", file=sys.stderr)
        began = began or datetime.now(UTC)
        run_id = await context.store.start_run("recheck", {**spec.params(), "began": began.isoformat()})
        run = context.run(run_id)

        def report(run: CrawlRun, marked: int) -> None:
            counts = summary(run.stats.counts)
            bar.update(counts["checked"], marked or None, " ".join(f"{k}={counts[k]}" for k in SUMMARY[1:]))

        try:
            with ProgressLine("recheck", elapsed=True) as bar:
                marked = await run_recheck(run, spec, began=began, stop=stop, on_progress=report)
        except BaseException as exc:
            await run.store.finish_run(
                run_id, status="failed", counters=dict(run.stats.counts), error=repr(exc)[:500]
            )
            raise
        unfinished = await run.store.unfinished_recheck(priority=RECHECK_PRIORITY, since=began)
        counts = summary(run.stats.counts, unfinished=unfinished)
        status = "interrupted" if stop.is_set() else "ok" if not counts["failed"] else "failed"
        await run.store.finish_run(run_id, status=status, counters=dict(run.stats.counts))
    print(
        f"recheck {status}: marked={marked} " + " ".join(f"{k}={counts[k]}" for k in SUMMARY), file=sys.stderr
    )
    print(json.dumps({"status": status, "run_id": run_id, "marked": marked, **counts}))
    if stop.is_set():
        return 130
    if counts["failed"] and counts["requests"] == 0:
        print("jinshan: the site answered no request", file=sys.stderr)
        return 2
    return 1 if counts["failed"] else 0
