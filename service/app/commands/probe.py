"""``jinshan probe [URL...] [--sample N] [--json]``: the day-one report on the site's templates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from service.app.commands.common import ConfigOpt, fail, settings_from


def probe(
    urls: Annotated[
        list[str] | None, typer.Argument(help="Pages to start from (default: the site's start_urls).")
    ] = None,
    sample: Annotated[
        int, typer.Option("--sample", "-n", min=1, max=50, help="Pages of each kind to fetch.")
    ] = 3,
    max_pages: Annotated[
        int, typer.Option("--max-pages", min=1, help="At most this many requests in all.")
    ] = 200,
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """Sample the site politely (lists, articles of each channel, e-paper) and report per template:
    which layer fills each field, refusals and why, where the profile and the generic layer disagree,
    and the selectors that would make the profile fill what the generic layer found. Archives
    nothing and needs no database.

    Exit 0 when every sampled page was fetched, 1 when some could not be, 2 when none was.
    """
    import asyncio
    import json

    from service.crawl.probe import probe_site
    from service.extract.probe import report_json

    settings = settings_from(config)
    run = asyncio.run(probe_site(settings, list(urls or []), sample=sample, max_pages=max_pages))
    if not run.pages:
        fail("no page could be fetched: " + ("; ".join(run.failed.values()) or "nothing to fetch"))
    report = report_json(run.pages, run.failed, settings.profile)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
    else:
        print_report(report)
    raise typer.Exit(1 if run.failed else 0)


def print_report(report: dict[str, Any]) -> None:
    """The report as Rich tables: one per template, then the refusals and the failures."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if Console().is_terminal else 140)
    kinds = ", ".join(f"{n} {k}" for k, n in report["kinds"].items())
    console.print(
        f"[bold]{report['pages']} pages probed[/bold] ({kinds}), {len(report['templates'])} templates"
    )
    for t in report["templates"]:
        title = (
            f"template {t['signature']} · profile {t['template']} · {t['pages']} pages "
            f"({', '.join(f'{n} {k}' for k, n in t['kinds'].items())}), {t['accepted']} articles"
        )
        console.print(f"[bold]{title}[/bold]", highlight=False)
        console.print("examples: " + "  ".join(t["examples"]), highlight=False)
        if t["refused"]:
            console.print(
                "refused: " + ", ".join(f"{k} ×{n}" for k, n in t["refused"].items()), highlight=False
            )
        if not t["accepted"]:
            console.print()
            continue
        table = Table()
        for column in ("field", "fill", "filled by", "disagree", "proposed selector"):
            table.add_column(column)
        for name, info in t["fields"].items():
            layers = ", ".join(
                f"{layer} {n}" for layer, n in sorted(info["layers"].items(), key=lambda x: -x[1])
            )
            proposed = t["proposed_selectors"].get(name, "")
            table.add_row(
                f"[red]{name}[/red]"
                if name in t["broken"]
                else f"[yellow]{name}[/yellow]"
                if name in t["missing"]
                else name,
                f"{info['fill_rate']:.0%}",
                layers or "—",
                str(t["disagreements"].get(name, "")),
                proposed,
            )
        console.print(table)
        if t["proposed_toml"]:
            if t["broken"]:
                console.print(
                    f"[bold]selectors that find nothing:[/bold] {', '.join(t['broken'])}", highlight=False
                )
            if t["missing"]:
                console.print(
                    f"[bold]fields with no selector:[/bold] {', '.join(t['missing'])}", highlight=False
                )
            console.print("proposed profile section:")
            console.print(t["proposed_toml"], markup=False, highlight=False)
        console.print()
    for item in report["refused"]:
        console.print(f"refused {item['kind']} {item['url']}: {item['refused']}", highlight=False)
    for url, reason in report["failed"].items():
        console.print(f"[red]not fetched[/red] {url}: {reason}", highlight=False)
