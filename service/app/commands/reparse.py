"""``jinshan reparse [--since …] [--until …] [--workers N]``: today's extractor over the archive.

A progress bar on a terminal, the counts at the end (a line on stderr, a JSON object on stdout).
Exit code: 0 when every item was re-read, 1 when some failed, 130 when interrupted (a re-run
resumes), 2 when it could not run.
"""

from __future__ import annotations

import json
import signal
import sys
from datetime import date
from typing import Annotated, Any

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


def reparse(
    since: Annotated[str | None, typer.Option(help="Only articles published on or after this date.")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on or before this date.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes that extract at once; default: one per core."),
    ] = None,
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """Re-extract stored articles, and pages refused as not articles, from the WARC archive with
    today's extractor and profiles.

    Makes a new version only where the extracted article changed; stores refused pages that are
    articles now; fetches nothing; resumable. Exit 0 when all went well, 1 when some failed.
    """
    from concurrent.futures.process import BrokenProcessPool

    settings = configure(config, log_format)
    first, last = optional_date(since, "--since"), optional_date(until, "--until")
    try:
        code = run_reparse_command(settings, since=first, until=last, workers=workers)
    except BrokenProcessPool as exc:
        fail(f"reparse stopped: a worker process died ({exc}); run it again to resume")
    except StoreError as exc:
        database_failure(exc, settings)
    raise typer.Exit(code)


def run_reparse_command(
    settings: Settings, *, since: date | None, until: date | None, workers: int | None = None
) -> int:
    """The reparse with its progress and its counts; the exit code."""
    from service.app.render import ProgressLine
    from service.crawl.reparse import COUNTS, reparse
    from service.store import open_store

    stopped = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}

    def report(progress: Any) -> None:
        line = " ".join(f"{k}={progress.counts.get(k, 0)}" for k in COUNTS if progress.counts.get(k))
        bar.update(sum(progress.counts.values()), progress.total, line)

    try:
        with open_store(settings) as store, ProgressLine("reparse") as bar:
            result = reparse(settings, store, since=since, until=until, workers=workers,
                             should_stop=lambda: stopped, on_progress=report)  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    counts = {k: result.counts.get(k, 0) for k in COUNTS}
    status = "interrupted" if stopped else "done"
    print(f"reparse {status}: " + " ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)
    print(json.dumps({"status": status, **counts}))
    return 130 if stopped else 1 if counts["failed"] else 0
