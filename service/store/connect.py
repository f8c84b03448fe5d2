"""Opening the archive from settings: the one way every command, the daemon and the web view get a
``Store`` or a ``Reader``.

A writer's database is migrated first when ``database.auto_upgrade``, else it must be at head. A
reader (``read_only``: stats, export, search) never migrates nor creates anything: the database
must exist and be at head, and a read-only one will do. Every failure is a ``StoreError`` whose
message names the database with its password masked.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from service.errors import FILL_ADVICE, NoArchiveError, StoreError
from service.settings import Settings, redact_url
from service.site.urls import canonical_url, shapes_of
from service.store import db
from service.store.browse import Reader
from service.store.repo import Store
from service.store.sql import store_error

log = logging.getLogger(__name__)


def open_store(settings: Settings, *, read_only: bool = False, migrate: bool | None = None) -> Store:
    """A ``Store`` on ``[database] url``, its schema checked (or migrated: ``migrate``, by default
    ``auto_upgrade`` for a writer). Close it with ``Store.close`` or use it in a ``with``."""
    engine = db.make_engine(settings.database, read_only=read_only)
    try:
        upgrade = (settings.database.auto_upgrade if migrate is None else migrate) and not read_only
        _ensure_schema(engine, settings, upgrade=upgrade, reading=read_only)
    except BaseException:
        engine.dispose()
        raise
    log.info("database %s", redact_url(settings.database.url))
    return Store(engine, settings.dedup, canonicalize=canonicalizer(settings))


@contextmanager
def open_reader(settings: Settings) -> Iterator[Reader]:
    """The archive read-only for the web view (``jinshan serve``): never migrates; the schema must
    be at head; nothing is created (no SQLite file where there was none). The engine is disposed
    on exit."""
    engine = db.make_engine(settings.database, read_only=True)
    try:
        _ensure_schema(engine, settings, upgrade=False, reading=True)
        yield Reader(engine, canonicalize=canonicalizer(settings))
    finally:
        engine.dispose()


def upgrade_database(settings: Settings) -> tuple[str | None, str | None]:
    """Apply pending migrations (``jinshan db upgrade``); the revision before and after."""
    engine = db.make_engine(settings.database)
    try:
        before = db.current_revision(engine)
        db.upgrade(engine)
        return before, db.current_revision(engine)
    except SQLAlchemyError as exc:  # bad credentials, a server that is down, a read-only file
        raise store_error(exc, f"database {redact_url(settings.database.url)}") from exc
    finally:
        engine.dispose()


def canonicalizer(settings: Settings) -> Callable[[str], str]:
    """``canonical_url`` with the site's host aliases, dropped query parameters and the URL shapes of
    its profile (a further page of a split article is its first page)."""
    return functools.partial(
        canonical_url,
        host_aliases=settings.site.host_aliases,
        drop_params=settings.site.drop_query_params,
        shapes=shapes_of(settings.profile),
    )


def _ensure_schema(engine: Engine, settings: Settings, *, upgrade: bool, reading: bool) -> None:
    """Migrate (``upgrade``) or check the schema. An unmigrated database is ``NoArchiveError``: a
    reader is told how to fill an archive, a writer with ``auto_upgrade`` off how to create it."""
    where = redact_url(settings.database.url)
    try:
        if upgrade:
            if not db.at_head(engine):  # the common start: one SELECT, Alembic not even imported
                db.upgrade(engine)
            return
        current, head = db.current_revision(engine), db.HEAD_REVISION
    except SQLAlchemyError as exc:
        raise store_error(exc, f"database {where} unreachable") from exc
    if current is None:
        if reading:
            raise NoArchiveError(f"the database {where} holds no archive yet: {FILL_ADVICE}")
        raise NoArchiveError(
            f"the database {where} has no tables and database.auto_upgrade is off: run `jinshan db upgrade`"
        )
    if db.newer_than_code(current):
        raise db.newer_schema_error(current, where)
    if current != head:
        raise StoreError(
            f"the database schema is at {current}, this version needs {head}: run `jinshan db upgrade`"
        )
