"""``jinshan stats``: counts, field fill rates, last runs, errors."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, fail, settings_from
from service.errors import StoreError


def stats(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
) -> None:
    """Counts, field fill rates, last runs, errors."""
    import json

    from service.app.render import print_stats
    from service.store import open_store

    settings = settings_from(config)
    try:
        with open_store(settings, read_only=True) as store:
            result = store.stats()
    except StoreError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        print_stats(result)
