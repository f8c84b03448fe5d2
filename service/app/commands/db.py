"""``jinshan db upgrade`` and ``jinshan db reindex``: database maintenance."""

from __future__ import annotations

import typer

from service.app.commands.common import ConfigOpt, fail, settings_from
from service.errors import StoreError

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)


@db_app.command("upgrade")
def upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations."""
    from service.settings import redact_url
    from service.store import upgrade_database

    settings = settings_from(config)
    try:
        before, after = upgrade_database(settings)
    except StoreError as exc:
        fail(str(exc))
    where = redact_url(settings.database.url)
    change = "already at" if before == after else f"{before or 'empty'} →"
    typer.echo(f"{where}: {change} {after}")


@db_app.command("reindex")
def reindex(config: ConfigOpt = None) -> None:
    """Rebuild the search index from the current version of every article."""
    from service.store import open_store

    settings = settings_from(config)
    try:
        with open_store(settings) as store:
            n = store.reindex()
    except StoreError as exc:
        fail(str(exc))
    typer.echo(f"search index rebuilt: {n} documents")
