"""``jinshan run [--once]``: the daemon."""

from __future__ import annotations

from typing import Annotated

import typer

from service.app.commands.common import ConfigOpt, LogFormatOpt, configure, database_failure
from service.app.signals import STOP_SIGNALS
from service.errors import StoreError


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
    for sig in STOP_SIGNALS:
        signal.signal(sig, lambda signum, _frame: early.append(signal.Signals(signum)))

    from service.app.daemon import Daemon

    settings = configure(config, log_format)
    daemon = Daemon(settings, early_signals=early)
    try:
        code = asyncio.run(daemon.run_once()) if once else asyncio.run(daemon.run_forever())
    except StoreError as exc:
        database_failure(exc, settings)
    raise typer.Exit(code or 0)
