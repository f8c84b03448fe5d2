"""Fixtures of the store integration suite: every test runs on SQLite and on PostgreSQL.

``db_url`` is parametrized: a SQLite file in the test's temporary directory, and a fresh database
on the throwaway PostgreSQL server of ``tests.support.postgres`` (skipped with a reason when no
server can be started, failed instead under ``JINSHAN_TEST_REQUIRE_POSTGRES=1``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from service.settings import DatabaseSettings, DedupSettings, Settings, load_settings
from service.store import canonicalizer, db
from service.store.repo import Store
from tests.support.postgres import postgres_db_url, postgres_url

__all__ = ["postgres_db_url", "postgres_url"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'archive.db'}"
    return str(request.getfixturevalue("postgres_db_url"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(environ={})


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    eng = db.make_engine(DatabaseSettings(url=db_url, busy_timeout_s=30))
    db.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


def site_canonicalizer(settings: Settings) -> Callable[[str], str]:
    """The canonical-URL function the crawl code passes to ``Store`` (host aliases, tracking params,
    pages of split articles)."""
    return canonicalizer(settings)


@pytest.fixture()
def dedup_settings() -> DedupSettings:
    return DedupSettings()


@pytest.fixture()
def store(engine: Engine, settings: Settings, dedup_settings: DedupSettings) -> Store:
    return Store(engine, dedup_settings, canonicalize=site_canonicalizer(settings))
