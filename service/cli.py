"""The ``jinshan`` command line: thin Typer commands over ``crawl`` and ``store``.

The commands, their options and the JSON they print are public contracts (ARCHITECTURE.md).
Exit codes: 0 all good; 1 some items failed (URLs parked as failed); 2 the command could not run
(a bad setting or option, the database or the site unreachable, a folder it cannot write), said in
one line on stderr, with the traceback only under ``--debug``; 3 ``parse`` met an input that is not
an article; 130 a backfill or reparse stopped by a signal (a re-run resumes).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from service.config import Settings, load_settings, redact_text, url_secrets
from service.errors import ConfigError

#: the database password in its spellings, masked in every message (set once settings are loaded)
_SECRETS: tuple[str, ...] = ()

app = typer.Typer(
    name="jinshan",
    help="Archive 金山网 (www.jsw.com.cn): discover, fetch politely, archive (WARC), extract, deduplicate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: Rich's panels print a type beside every flag (`--once <bool>`) and read [log] as markup
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML file merged over config/default.toml.", exists=False),
]


def one_line(message: str) -> str:
    """The first line of ``message`` (a driver's error runs on with SQL and links), secrets masked."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return redact_text(lines[0] if lines else "", _SECRETS)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit: the user sees the reason, not a traceback."""
    typer.echo(f"jinshan: {one_line(message)}", err=True)
    raise typer.Exit(code)


def _loaded(settings: Settings) -> Settings:
    global _SECRETS
    _SECRETS = url_secrets(settings.database.url)
    return settings


def settings_from(config: Path | None) -> Settings:
    try:
        return _loaded(load_settings(config))
    except ConfigError as exc:
        fail(str(exc))


LogFormatOpt = Annotated[
    str | None, typer.Option("--log-format", help="text or json (default: the setting log.format).")
]
#: columns of `stats` tables when stdout is not a terminal: wide enough that no cell is cut
PIPED_WIDTH = 10_000


def _configure(config: Path | None, log_format: str | None) -> Settings:
    from service.logs import setup_logging

    overrides = {"log": {"format": log_format}} if log_format else None
    try:
        settings = _loaded(load_settings(config, overrides=overrides))
    except ConfigError as exc:
        fail(str(exc))
    setup_logging(settings.log.format, settings.log.level, secrets=_SECRETS)
    return settings


def _database_failure(exc: Exception, settings: Settings) -> NoReturn:
    from service.config import redact_url

    reason = one_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__
    fail(f"database {redact_url(settings.database.url)} unreachable: {reason}")


@app.command()
def run(
    config: ConfigOpt = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one full cycle (discovery, then drain), then exit.")
    ] = False,
    log_format: LogFormatOpt = None,
) -> None:
    """The daemon: scheduled discovery, fetching and revisits."""
    import asyncio
    import signal

    # A stop that comes during the start-up (imports and opening the store take seconds on a busy
    # host) is remembered and honoured once the daemon's own handlers are in, instead of killing it.
    early: list[signal.Signals] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: early.append(signal.Signals(signum)))

    from service.daemon import Daemon

    settings = _configure(config, log_format)
    daemon = Daemon(settings, early_signals=early)
    try:
        code = asyncio.run(daemon.run_once()) if once else asyncio.run(daemon.run_forever())
    except Exception as exc:
        if _is_database_error(exc):
            _database_failure(exc, settings)
        raise
    raise typer.Exit(code or 0)


def _is_database_error(exc: Exception) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from service.errors import StoreError

    return isinstance(exc, SQLAlchemyError | StoreError)


@app.command()
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
    import asyncio

    from service.crawl.backfill import SOURCES, BackfillRange
    from service.crawl.progress import run_backfill_command

    settings = _configure(config, log_format)
    first, last = _date(since, "--since"), _date(until, "--until") if until else None
    if source not in SOURCES:
        fail(f"--source must be one of {', '.join(SOURCES)}")
    from datetime import datetime
    from zoneinfo import ZoneInfo

    last = last or datetime.now(ZoneInfo(settings.schedule.timezone)).date()
    if last < first:
        fail("--until is before --since")
    try:
        span = BackfillRange(first, last, source, discover=not drain_only)
        code = asyncio.run(run_backfill_command(settings, span, workers=1 if drain_only else workers))
    except Exception as exc:
        if _is_database_error(exc):
            _database_failure(exc, settings)
        raise
    raise typer.Exit(code)


def _date(text: str, option: str) -> date:
    from datetime import date as date_type

    try:
        return date_type.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date as YYYY-MM-DD, not {text!r}")


@app.command()
def parse(
    inputs: Annotated[list[str], typer.Argument(help="Files or URLs of pages to extract.")],
    url: Annotated[str | None, typer.Option(help="The page's URL, when parsing a single file.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Extract articles from pages, no database: one JSON line per input.

    Exit 0 when every input is an article, 3 when one is not, 2 when one could not be read.
    """
    import json

    from service.crawl.parse import parse_inputs

    settings = settings_from(config)
    if url and len(inputs) > 1:
        fail("--url applies to a single input")
    worst = 0
    for result in parse_inputs(inputs, settings, url=url):
        typer.echo(json.dumps(result, ensure_ascii=False))
        if "error" in result:
            worst = 2
        elif "not_article" in result and worst == 0:
            worst = 3
    raise typer.Exit(worst)


@app.command()
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

    from service.crawl.progress import run_reparse_command

    settings = _configure(config, log_format)
    first = _date(since, "--since") if since else None
    last = _date(until, "--until") if until else None
    try:
        code = run_reparse_command(settings, since=first, until=last, workers=workers)
    except BrokenProcessPool as exc:
        fail(f"reparse stopped: a worker process died ({exc}); run it again to resume")
    except Exception as exc:
        if _is_database_error(exc):
            _database_failure(exc, settings)
        raise
    raise typer.Exit(code)


@app.command()
def export(
    format: Annotated[str, typer.Option("--format", help="jsonl, csv or wacz.")] = "jsonl",
    since: Annotated[str | None, typer.Option(help="Published on or after, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before, YYYY-MM-DD.")] = None,
    output: Annotated[Path | None, typer.Option(help="File to write; default stdout.")] = None,
    bom: Annotated[
        bool,
        typer.Option(
            "--bom", help="Start the CSV with a UTF-8 byte-order mark, so that Excel reads Chinese text."
        ),
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Articles out, one per line; or, with --format wacz, their archived pages as a WACZ file
    (for pywb and ReplayWeb.page)."""
    from service.errors import StoreError
    from service.store.commands import run_export

    settings = settings_from(config)
    first = _date(since, "--since") if since else None
    last = _date(until, "--until") if until else None
    if format == "wacz":
        _export_wacz(settings, first, last, output)
        return
    try:
        n = run_export(settings, fmt=format, since=first, until=last, output=output, bom=bom)
    except (ValueError, StoreError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"--output {output}: {exc.strerror or exc}")
    if output is not None:
        typer.echo(f"{n} articles written to {output}", err=True)


def _export_wacz(settings: Settings, since: date | None, until: date | None, output: Path | None) -> None:
    from service.crawl.wacz import WaczError, run_wacz_export
    from service.errors import StoreError

    if output is None:
        fail("--format wacz writes a file: give --output FILE.wacz")
    try:
        result = run_wacz_export(settings, since=since, until=until, output=output)
    except (ValueError, StoreError, WaczError) as exc:
        fail(str(exc))
    note = f" ({result.missing} records missing from the WARC files)" if result.missing else ""
    typer.echo(f"{result.pages} pages written to {output}{note}", err=True)
    if result.missing:
        raise typer.Exit(1)


@app.command()
def stats(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """Counts, field fill rates, last runs, errors."""
    import json

    from rich.console import Console

    from service.errors import StoreError
    from service.store.commands import collect_stats, render_stats

    settings = settings_from(config)
    try:
        result = collect_stats(settings)
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        # piped or redirected: the tables at their natural width, never cut to 80 columns
        Console(width=None if sys.stdout.isatty() else PIPED_WIDTH).print(render_stats(result))


@app.command("search")
def search_command(
    query: Annotated[
        list[str] | None,
        typer.Argument(metavar="WORDS", help="Words to find (all of them; optional with a credit filter)."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before, YYYY-MM-DD.")] = None,
    reporter: Annotated[str | None, typer.Option(help="Only articles by this reporter.")] = None,
    photographer: Annotated[
        str | None, typer.Option(help="Only articles with photos by this person.")
    ] = None,
    editor: Annotated[str | None, typer.Option(help="Only articles edited by this person.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Full-text search of the current titles and bodies: best match first, or newest first
    when only filters are given."""
    import json

    from rich.console import Console

    from service.errors import StoreError
    from service.store.commands import open_store

    settings = settings_from(config)
    names = {"reporters": reporter, "photographers": photographer, "editors": editor}
    first = _date(since, "--since") if since else None
    last = _date(until, "--until") if until else None
    try:
        with open_store(settings, read_only=True) as store:
            credits = {role: name for role, name in names.items() if name}
            words = " ".join(query) if query else None  # `search 扬中 镇江` and `search "扬中 镇江"` alike
            hits = store.search(words, since=first, until=last, credits=credits, limit=limit)
    except (ValueError, StoreError) as exc:
        fail(str(exc))
    console = Console(highlight=False)
    for hit in hits:
        if as_json:
            typer.echo(json.dumps(hit.to_json(), ensure_ascii=False))
        else:
            console.print(hit.to_markup() + "\n")
    if not hits:
        typer.echo("no matching articles", err=True)


@app.command()
def serve(
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to listen on (127.0.0.1: this machine only; port 0: any free).")
    ] = "127.0.0.1:9411",
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """The archive in a browser, read-only: days, channels, people, search, articles with their
    versions and diffs, the pages as archived, a JSON API and Atom feeds."""
    from service.errors import StoreError
    from service.store.commands import open_reader
    from service.web.app import archive_app
    from service.web.server import bind, serve_forever

    settings = _configure(config, log_format)
    try:
        with open_reader(settings) as reader:
            try:
                sock = bind(listen)
            except (OSError, ValueError) as exc:
                fail(f"cannot listen on {listen}: {exc}")
            host, port = sock.getsockname()[:2]
            typer.echo(f"jinshan: the archive is on http://{host}:{port}/ (Ctrl-C stops)", err=True)
            serve_forever(archive_app(settings, reader), sock)
    except StoreError as exc:
        fail(str(exc))
    except Exception as exc:
        if _is_database_error(exc):
            _database_failure(exc, settings)
        raise


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations."""
    from service.config import redact_url
    from service.errors import StoreError
    from service.store.commands import upgrade_database

    settings = settings_from(config)
    try:
        before, after = upgrade_database(settings)
    except StoreError as exc:
        fail(str(exc))
    where = redact_url(settings.database.url)
    change = "already at" if before == after else f"{before or 'empty'} →"
    typer.echo(f"{where}: {change} {after}")


@db_app.command("reindex")
def db_reindex(config: ConfigOpt = None) -> None:
    """Rebuild the search index from the current version of every article."""
    from service.errors import StoreError
    from service.store.commands import open_store

    settings = settings_from(config)
    try:
        with open_store(settings) as store:
            n = store.reindex()
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"search index rebuilt: {n} documents")


def main() -> None:
    """The ``jinshan`` command. ``--debug`` (anywhere on the line) shows the traceback of an
    unexpected error; without it the error is one line and the exit code 2."""
    debug = "--debug" in sys.argv[1:]
    if debug:
        sys.argv.remove("--debug")
    try:
        app()
    except Exception as exc:
        if debug:
            raise
        text = one_line(str(exc)) or type(exc).__name__
        typer.echo(f"jinshan: {type(exc).__name__}: {text} (--debug shows the traceback)", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
