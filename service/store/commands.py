"""What ``jinshan export``, ``jinshan stats`` and ``jinshan db upgrade`` do, so the CLI stays thin.

Each function takes the frozen settings, opens the database, does one job and returns what the
command prints or counts. Errors are ``StoreError`` (database) or ``ValueError`` (bad option).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.config import Settings, redact_url
from service.errors import StoreError
from service.store import db, export
from service.store.browse import Reader
from service.store.repo import Store
from service.urls import canonical_url

FORMATS = ("jsonl", "csv")


@contextmanager
def open_store(settings: Settings, *, read_only: bool = False) -> Iterator[Store]:
    """A ``Store`` on ``[database] url``. A writer's database is migrated first when
    ``auto_upgrade``, else it must be at head. A reader (``read_only``: stats, export, search)
    never migrates nor creates anything: the database must exist and be at head, and a read-only
    one will do. The engine is disposed on exit."""
    engine = db.make_engine(settings.database, read_only=read_only)
    try:
        _ensure_schema(engine, settings.database.auto_upgrade and not read_only)
        yield Store(engine, settings.dedup, canonicalize=_canonicalize(settings))
    finally:
        engine.dispose()


@contextmanager
def open_reader(settings: Settings) -> Iterator[Reader]:
    """The archive read-only (``jinshan serve``): never migrates; the schema must be at head."""
    engine = db.make_engine(settings.database)
    try:
        current, head = db.current_revision(engine), db.head_revision()
        if current != head:
            raise StoreError(
                f"the database schema is at {current or 'nothing'}, this version reads {head}: "
                "run `jinshan db upgrade`"
            )
        yield Reader(engine, canonicalize=_canonicalize(settings))
    finally:
        engine.dispose()


def _canonicalize(settings: Settings) -> Callable[[str], str]:
    return functools.partial(
        canonical_url, host_aliases=settings.site.host_aliases, drop_params=settings.site.drop_query_params
    )


def _ensure_schema(engine: Engine, auto_upgrade: bool) -> None:
    if auto_upgrade:
        db.upgrade(engine)
        return
    try:
        current, head = db.current_revision(engine), db.head_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the database {redact_url(str(engine.url))}: {exc}") from exc
    if current is None:
        raise StoreError(
            f"the database {redact_url(str(engine.url))} holds no archive yet: run `jinshan db upgrade`"
        )
    if current != head:
        raise StoreError(
            f"the database schema is at {current}, this version needs {head}: run `jinshan db upgrade`"
        )


def upgrade_database(settings: Settings) -> tuple[str | None, str | None]:
    """Apply pending migrations; the revision before and after."""
    engine = db.make_engine(settings.database)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine)
        return before, db.current_revision(engine)
    except SQLAlchemyError as exc:  # bad credentials, a server that is down, a read-only file
        reason = str(getattr(exc, "orig", None) or exc)
        raise StoreError(f"database {redact_url(settings.database.url)}: {reason}") from exc
    finally:
        engine.dispose()


def run_export(
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
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if bom and fmt != "csv":
        raise ValueError("--bom applies to --format csv")
    if since and until and since > until:
        raise ValueError("--since is after --until")
    writer = export.write_jsonl if fmt == "jsonl" else export.write_csv
    if output is not None and not output.parent.is_dir():
        raise ValueError(f"--output: no folder {output.parent}")
    with open_store(settings, read_only=True) as store:
        rows = store.iter_export(since=since, until=until)
        if output is None:
            if bom:
                sys.stdout.write("\ufeff")
            return writer(rows, sys.stdout)
        encoding = "utf-8-sig" if bom else "utf-8"
        with output.open("w", encoding=encoding, newline="" if fmt == "csv" else None) as fh:
            return writer(rows, fh)


def collect_stats(settings: Settings) -> dict[str, Any]:
    with open_store(settings, read_only=True) as store:
        return store.stats()


def render_stats(stats: dict[str, Any]) -> Any:
    """The stats as rich renderables (a group of tables) for a terminal."""
    from rich.console import Group
    from rich.table import Table

    def pairs(title: str, items: dict[str, Any]) -> Table:
        table = Table(title=title, title_justify="left", show_header=False)
        table.add_column("")
        table.add_column("", justify="right")
        for key, value in items.items():
            table.add_row(str(key), "—" if value is None else str(value))
        return table

    runs = Table(title="last runs", title_justify="left")
    for col in ("id", "kind", "status", "started", "finished", "counters"):
        runs.add_column(col)
    for r in stats["last_runs"]:
        counters = ", ".join(f"{k}={v}" for k, v in sorted(r["counters"].items()))
        runs.add_row(
            str(r["id"]),
            r["kind"],
            r["status"],
            r["started_at"][:19],
            (r["finished_at"] or "")[:19],
            counters,
        )
    errors = Table(title="frequent errors", title_justify="left")
    for col in ("state", "count", "error"):
        errors.add_column(col)
    for e in stats["errors"]:
        errors.add_row(e["state"], str(e["count"]), e["error"][:100])
    fill = stats["fill_rates"]
    return Group(
        f"database: {stats['database']}",
        pairs("archive", stats["counts"]),
        pairs("frontier", stats["frontier"]),
        pairs(f"field fill rates (last {fill['sample']} articles)", fill["rates"]),
        runs,
        errors,
    )
