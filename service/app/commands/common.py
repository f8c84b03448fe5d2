"""What every command shares: loading the settings, failing with one line, options, dates.

A command fails with ``fail``: one line on stderr (secrets masked), exit code 2 unless said
otherwise. The database password is registered as a secret as soon as the settings are loaded.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from service.errors import ConfigError, StoreError
from service.settings import Settings, load_settings, redact_url, redacted, register_secrets

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML file merged over config/default.toml.", exists=False),
]
LogFormatOpt = Annotated[
    str | None, typer.Option("--log-format", help="text or json (default: the setting log.format).")
]


def one_line(message: str) -> str:
    """The first line of ``message`` (a driver's error runs on with SQL and links), secrets masked."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return redacted(lines[0] if lines else "")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit: the user sees the reason, not a traceback."""
    typer.echo(f"jinshan: {one_line(message)}", err=True)
    raise typer.Exit(code)


def _loaded(settings: Settings) -> Settings:
    register_secrets(settings.database.url)
    for name in settings.ignored_environment:
        typer.echo(f"jinshan: warning: {name} is ignored: no such section of settings", err=True)
    return settings


def settings_from(config: Path | None) -> Settings:
    """The settings, for a command that logs nothing (parse, export, stats …)."""
    try:
        return _loaded(load_settings(config))
    except ConfigError as exc:
        fail(str(exc))


def configure(config: Path | None, log_format: str | None) -> Settings:
    """The settings, with logging set up (run, backfill, reparse, serve)."""
    from service.app.logs import setup_logging

    overrides = {"log": {"format": log_format}} if log_format else None
    try:
        settings = _loaded(load_settings(config, overrides=overrides))
    except ConfigError as exc:
        fail(str(exc))
    setup_logging(settings.log.format, settings.log.level, secrets=register_secrets(settings.database.url))
    return settings


def database_failure(exc: StoreError, settings: Settings) -> NoReturn:
    """A database that failed under a long-running command: one line naming it, password masked."""
    where = redact_url(settings.database.url)
    reason = one_line(str(exc)) or type(exc).__name__
    # the store's own messages name the database already ("the database … holds no archive yet")
    fail(reason if "database" in reason else f"database {where} unreachable: {reason}")


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date as YYYY-MM-DD, not {text!r}")


def optional_date(text: str | None, option: str) -> date | None:
    return parse_date(text, option) if text else None
