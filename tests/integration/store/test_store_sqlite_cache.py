"""``database.sqlite_cache_mb`` sets the page cache of every SQLite connection (the memory ceiling:
connections × cache + base)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from service.settings import DatabaseSettings
from service.store import db


@pytest.mark.parametrize("mb", [8, 32])
def test_each_connection_gets_the_configured_page_cache(tmp_path: Path, mb: int) -> None:
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'cache.db'}", sqlite_cache_mb=mb))
    try:
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                assert conn.execute(text("PRAGMA cache_size")).scalar_one() == -mb * 1000  # KiB
    finally:
        engine.dispose()
