"""``jinshan search WORDS… [--reporter …]``: full-text search of the archive."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, fail, optional_date, settings_from
from service.errors import StoreError


def search(
    query: Annotated[
        list[str] | None,
        typer.Argument(metavar="WORDS", help="Words to find (all of them; optional with a credit filter)."),
    ] = None,
    since: Annotated[str | None, typer.Option(help="Published on or after, YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option(help="Published on or before, YYYY-MM-DD.")] = None,
    reporter: Annotated[
        str | None, typer.Option(help="Only articles by this reporter (a name or part of one).")
    ] = None,
    photographer: Annotated[
        str | None, typer.Option(help="Only articles with photos by this person (a name or part of one).")
    ] = None,
    editor: Annotated[
        str | None, typer.Option(help="Only articles edited by this person (a name or part of one).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Full-text search of the current titles and bodies: best match first, or newest first
    when only filters are given."""
    import json

    from rich.console import Console

    from service.app.render import search_hit_markup
    from service.store import open_store

    settings = settings_from(config)
    names = {"reporters": reporter, "photographers": photographer, "editors": editor}
    first, last = optional_date(since, "--since"), optional_date(until, "--until")
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
            console.print(search_hit_markup(hit) + "\n")
    if not hits:
        typer.echo("no matching articles", err=True)
