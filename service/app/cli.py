"""The ``jinshan`` command line: one Typer app over the commands of ``app.commands``, one module per
command (what it takes, checks, prints and exits with lives there).

The commands, their options and the JSON they print are public contracts (docs/architecture.md).
Exit codes: 0 all good; 1 some items failed (URLs parked as failed); 2 the command could not run
(a bad setting or option, the database or the site unreachable, a folder it cannot write), said in
one line on stderr, with the traceback only under ``--debug``; 3 ``parse`` met an input that is not
an article; 130 a backfill or reparse stopped by a signal (a re-run resumes).
"""

from __future__ import annotations

import sys

import typer

from service.app.commands import backfill, export, parse, probe, recheck, reparse, run, search, serve, stats
from service.app.commands.common import one_line
from service.app.commands.db import db_app

app = typer.Typer(
    name="jinshan",
    help="Archive 金山网 (www.jsw.com.cn): discover, fetch politely, archive (WARC), extract, deduplicate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: Rich's panels print a type beside every flag (`--once <bool>`) and read [log] as markup
    rich_markup_mode=None,
)
app.command()(run.run)
app.command()(backfill.backfill)
app.command()(parse.parse)
app.command()(probe.probe)
app.command()(reparse.reparse)
app.command()(recheck.recheck)
app.command()(export.export)
app.command()(stats.stats)
app.command()(search.search)
app.command()(serve.serve)
app.add_typer(db_app, name="db")


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
