"""Two OS processes on one database at the same moment, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from service.settings import DatabaseSettings
from service.store import db
from service.store.schema import article_versions, articles

WORKER = Path(__file__).with_name("concurrent_worker.py")


def run_pair(mode: str, url: str) -> list[dict[str, Any]]:
    """Start two workers that begin at the same instant; their JSON results (both must exit 0)."""
    start_at = time.time() + 2.0  # both have imported everything by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, url, str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_two_processes_upgrade_an_empty_database_at_once(db_url: str) -> None:
    results = run_pair("upgrade", db_url)
    assert [r["revision"] for r in results] == [db.head_revision()] * 2


def test_two_processes_store_the_same_articles_at_once(db_url: str) -> None:
    engine = db.make_engine(DatabaseSettings(url=db_url))
    db.upgrade(engine)
    try:
        a, b = run_pair("store", db_url)
        with engine.connect() as conn:
            n_articles = conn.execute(select(func.count()).select_from(articles)).scalar_one()
            n_versions = conn.execute(select(func.count()).select_from(article_versions)).scalar_one()
    finally:
        engine.dispose()
    assert n_articles == n_versions == 40
    for (kind_a, id_a), (kind_b, id_b) in zip(a["outcomes"], b["outcomes"], strict=True):
        assert id_a == id_b  # both processes ended up on the same row
        assert sorted([kind_a, kind_b]) == ["new", "unchanged"]
    assert not set(a["claimed"]) & set(b["claimed"])  # no URL leased twice
    assert len(a["claimed"]) + len(b["claimed"]) == 100
