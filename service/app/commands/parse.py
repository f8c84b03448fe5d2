"""``jinshan parse FILE_OR_URL... [--url URL]``: extraction only, no database."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, fail, settings_from


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
