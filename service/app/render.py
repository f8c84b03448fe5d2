"""Everything the command line draws with Rich: the stats tables, search results, progress bars.

Nothing below ``app`` builds markup: the store returns values, the crawl returns counters, and
this module turns them into what a person reads on a terminal. Off a terminal the progress bars
become a log line every ``LOG_EVERY_S`` seconds.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from service.store import SearchHit, render_marks
from service.text.dates import CST

# Rich is imported where it draws: a backfill or reparse off a terminal (a service, a benchmark)
# logs its progress and never pays for it (~75 ms at every start)
if TYPE_CHECKING:
    from rich.console import Group
    from rich.progress import Progress
    from rich.table import Table

log = logging.getLogger(__name__)

#: seconds between progress log lines when stderr is not a terminal
LOG_EVERY_S = 10.0
#: columns of `stats` tables when stdout is not a terminal: wide enough that no cell is cut
PIPED_WIDTH = 10_000


def stats_tables(stats: dict[str, Any]) -> Group:
    """The stats as a group of tables."""
    from rich.console import Group
    from rich.table import Table

    from service.store import DEPRECATED_COUNTS

    def pairs(title: str, items: dict[str, Any]) -> Table:
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("")
        table.add_column("", justify="right")
        for key, value in items.items():
            table.add_row(str(key), "—" if value is None else str(value))
        return table

    runs = Table(title="last runs", title_justify="left")
    for col in ("id", "kind", "status", "started", "finished", "counters"):
        runs.add_column(col)
    for r in stats["last_runs"]:
        counters = ", ".join(f"{k}={v}" for k, v in sorted(r["counters"].items()))
        runs.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["started_at"][:19],
            (r["finished_at"] or "")[:19],
            counters,
        )
    errors = Table(title="frequent errors", title_justify="left")
    for col in ("state", "count", "error"):
        errors.add_column(col)
    for e in stats["errors"]:
        errors.add_row(e["state"], str(e["count"]), e["error"][:100])
    fill = stats["fill_rates"]
    captured = Table(title="resources archived with pages", title_justify="left")
    for col in ("kind", "archived", "bytes", "pending", "missing"):
        captured.add_column(col, justify="left" if col == "kind" else "right")
    for kind, row in stats.get("resources", {}).get("by_kind", {}).items():
        captured.add_row(kind, *(f"{row.get(c, 0):,}" for c in ("archived", "bytes", "pending", "missing")))
    return Group(
        f"database: {stats['database']}",
        # the deprecated names stay in ``--json`` only: a table shows each count once
        pairs("archive", {k: v for k, v in stats["counts"].items() if k not in DEPRECATED_COUNTS}),
        pairs("frontier", stats["frontier"]),
        pairs(f"field fill rates (last {fill['sample']} articles)", fill["rates"]),
        pairs(
            "articles changed at least this long after publication",
            stats.get("changed_after", {}),
        ),
        captured,
        runs,
        errors,
    )


def print_stats(stats: dict[str, Any]) -> None:
    """The stats tables on stdout; piped or redirected, at their natural width (never cut)."""
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else PIPED_WIDTH).print(stats_tables(stats))


def search_hit_markup(hit: SearchHit) -> str:
    """Rich console markup of one search result: title, date, URL, then the snippet, the matches in
    bold yellow."""
    from rich.markup import escape

    when = hit.published_at.astimezone(CST).strftime("%Y-%m-%d %H:%M") if hit.published_at else "—"
    title = render_marks(hit.title_marks, "[bold yellow]", "[/]", escape)
    return (
        f"[bold]{title}[/]  [dim]{when}[/]\n[blue]{escape(hit.url)}[/]\n"
        f"{render_marks(hit.snippet, '[bold yellow]', '[/]', escape)}"
    )


class ProgressLine:
    """A progress bar named ``what`` on a terminal; elsewhere a log line every ``LOG_EVERY_S``.

    ``update(done, total, line)``: ``total`` None while unknown (the backfill still discovering).
    ``clock`` is injectable."""

    def __init__(
        self, what: str, *, elapsed: bool = False, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.what, self.elapsed, self.clock = what, elapsed, clock
        self.tty = sys.stderr.isatty()
        self.bar: Progress | None = None
        self.task: Any = None
        self.last_log: float | None = None

    def __enter__(self) -> ProgressLine:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def update(self, done: int, total: int | None, line: str) -> None:
        if self.tty:
            if self.bar is None:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )

                columns = [TextColumn(f"[bold]{self.what}"), BarColumn(), TextColumn("{task.fields[done]}"),
                           TextColumn("{task.fields[counts]}")]  # fmt: skip
                columns += [TimeElapsedColumn()] if self.elapsed else []
                self.bar = Progress(*columns, TimeRemainingColumn(), console=Console(stderr=True))
                self.bar.start()
                self.task = self.bar.add_task(self.what, total=total, counts="", done="")
            self.bar.update(self.task, completed=done, total=total or None, counts=line,
                            done=f"{done}/{total}" if total else "discovering")  # fmt: skip
        elif self.last_log is None or self.clock() - self.last_log >= LOG_EVERY_S:
            self.last_log = self.clock()
            log.info("%s progress: %s", self.what, f"{done}/{total} {line}" if total else line)
