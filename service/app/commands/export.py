"""``jinshan export``: articles out as JSON lines or CSV, or their archived pages as a WACZ file."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, fail, optional_date, settings_from
from service.atomic import atomic_path
from service.errors import StoreError
from service.settings import Settings

FORMATS = ("jsonl", "csv")


def export(
    format: Annotated[str, typer.Option("--format", help="jsonl, csv, wacz or warc.")] = "jsonl",
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
    """Articles out, one per line; or, with --format wacz, their archived pages (with their photos
    and stylesheets, and the list pages of the range) as a WACZ file (for pywb and ReplayWeb.page);
    with --format warc, the same records as one WARC file."""
    settings = settings_from(config)
    first, last = optional_date(since, "--since"), optional_date(until, "--until")
    if format in ("wacz", "warc"):
        _export_wacz(settings, first, last, output, fmt=format)
        return
    try:
        n = write_export(settings, fmt=format, since=first, until=last, output=output, bom=bom)
    except (ValueError, StoreError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"--output {output}: {exc.strerror or exc}")
    if output is not None:
        typer.echo(f"{n} articles written to {output}", err=True)


def write_export(
    settings: Settings,
    *,
    fmt: str,
    since: date | None,
    until: date | None,
    output: Path | None,
    bom: bool = False,
) -> int:
    """Write the export to ``output`` (stdout when None) as JSON lines or CSV; how many articles.
    ``bom``: the CSV starts with a UTF-8 byte-order mark (Excel reads it as UTF-8 then)."""
    from service.store import open_store, write_csv, write_jsonl

    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if bom and fmt != "csv":
        raise ValueError("--bom applies to --format csv")
    if since and until and since > until:
        raise ValueError("--since is after --until")
    writer = write_jsonl if fmt == "jsonl" else write_csv
    if output is not None and not output.parent.is_dir():
        raise ValueError(f"--output: no folder {output.parent}")
    with open_store(settings, read_only=True) as store:
        rows = store.iter_export(since=since, until=until)
        if output is None:
            if bom:
                sys.stdout.write("\ufeff")
            return writer(rows, sys.stdout)
        encoding = "utf-8-sig" if bom else "utf-8"
        newline = "" if fmt == "csv" else None
        with atomic_path(output) as partial, partial.open("w", encoding=encoding, newline=newline) as fh:
            return writer(rows, fh)


def _export_wacz(
    settings: Settings, since: date | None, until: date | None, output: Path | None, *, fmt: str = "wacz"
) -> None:
    from service.crawl.wacz import WaczError, run_wacz_export, run_warc_export

    if output is None:
        fail(f"--format {fmt} writes a file: give --output FILE.{'wacz' if fmt == 'wacz' else 'warc.gz'}")
    run = run_wacz_export if fmt == "wacz" else run_warc_export
    try:
        result = run(settings, since=since, until=until, output=output)
    except (ValueError, StoreError, WaczError) as exc:
        fail(str(exc))
    note = f" ({result.missing} records missing from the WARC files)" if result.missing else ""
    typer.echo(f"{result.pages} pages written to {output}{note}", err=True)
    if result.missing:
        raise typer.Exit(1)
