"""``jinshan serve``: the archive in a browser, read-only."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, LogFormatOpt, configure, fail
from service.errors import FILL_ADVICE, StoreError


def serve(
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to listen on (127.0.0.1: this machine only; port 0: any free).")
    ] = "127.0.0.1:9411",
    config: ConfigOpt = None,
    log_format: LogFormatOpt = None,
) -> None:
    """The archive in a browser, read-only: days, channels, people, search, articles with their
    versions and diffs, the pages as archived, a JSON API and Atom feeds. With no archive at the
    configured database it exits 2 saying how to fill one; on an empty one it says so and serves."""
    from service.app.web.app import archive_app
    from service.app.web.server import bind, serve_forever
    from service.store import ListFilter, open_reader

    settings = configure(config, log_format)
    try:
        with open_reader(settings) as reader:
            try:
                sock = bind(listen)
            except (OSError, ValueError) as exc:
                fail(f"cannot listen on {listen}: {exc}")
            host, port = sock.getsockname()[:2]
            typer.echo(f"jinshan: the archive is on http://{host}:{port}/ (Ctrl-C stops)", err=True)
            if not reader.page(ListFilter(), limit=1)[0]:
                typer.echo(f"jinshan: the archive holds no article yet: {FILL_ADVICE}", err=True)
            serve_forever(archive_app(settings, reader), sock)
    except StoreError as exc:
        fail(str(exc))
