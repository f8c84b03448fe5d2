"""The frontier at size (migration 0006): a claim reads an index in its order, never the whole table,
and the counts by state are read from ``url_state_counts``, which triggers keep, on both databases.

Each plan is asked of the database itself (``EXPLAIN QUERY PLAN`` on SQLite, ``EXPLAIN`` on
PostgreSQL) on a frontier of 20,000 URLs shaped like a backfill under way, after ``ANALYZE``: the
planner then chooses as it would on a large archive. That the times stay flat up to 5M URLs is shown
by ``benchmarks/frontier.py``, not here.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import ClauseElement, Engine, delete, func, select, update
from sqlalchemy.engine import make_url

from service.settings import DatabaseSettings
from service.store import db, frontier, stats
from service.store.repo import NewUrl, Store
from service.store.schema import state_is, urls
from service.store.sql import explain
from service.store.types import URL_STATES
from tests.support.frontier import fill
from tests.support.postgres import create_database, drop_database

NOW = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The frontier of 20,000 URLs, migrated, filled and analysed once per database kind; each test
    works on a copy of it (``db_url``). The file is one xdist group (tests/conftest.py)."""
    server = str(request.getfixturevalue("postgres_url")) if request.param == "postgres" else ""
    url = create_database(server) if server else f"sqlite:///{tmp_path_factory.mktemp('planned') / 'a.db'}"
    eng = db.make_engine(DatabaseSettings(url=url, busy_timeout_s=30))
    try:
        db.upgrade(eng)
        with eng.begin() as conn:
            fill(conn, 20_000, now=NOW)
    finally:
        eng.dispose()  # a template database must have no session
    yield url
    if server:
        drop_database(server, url)


@pytest.fixture()
def db_url(filled: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A copy of the filled frontier for one test (its statistics included)."""
    if filled.startswith("sqlite:///"):
        copy = tmp_path / "archive.db"
        shutil.copyfile(filled.removeprefix("sqlite:///"), copy)
        yield f"sqlite:///{copy}"
        return
    server = str(request.getfixturevalue("postgres_url"))
    url = create_database(server, template=str(make_url(filled).database))
    try:
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture()
def planned(engine: Engine) -> Engine:
    return engine


def plan(engine: Engine, statement: ClauseElement) -> str:
    with engine.connect() as conn:
        return "\n".join(explain(conn, statement))


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"kinds": ["article", "epaper_article"]},
        {"published_between": (date(2008, 1, 1), date(2020, 12, 31))},
    ],
    ids=["plain", "kinds", "published_between"],
)
def test_a_claim_reads_the_claim_index_in_order(planned: Engine, filters: dict[str, object]) -> None:
    text = plan(planned, frontier.claim_query(now=NOW, limit=50, **filters))  # type: ignore[arg-type]
    assert "ix_urls_claim" in text, text
    # neither a read of the whole table nor a sort of the due rows
    for full_read in ("SCAN urls\n", "Seq Scan", "TEMP B-TREE", "Sort"):
        assert full_read not in text + "\n", text


def true_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        found = dict(conn.execute(select(urls.c.state, func.count()).group_by(urls.c.state)).all())
    return {state: int(found.get(state, 0)) for state in URL_STATES}


def test_the_state_counts_follow_every_write_of_the_frontier(planned: Engine, store: Store) -> None:
    assert store.frontier_counts() == true_counts(planned)
    store.add_urls(
        [NewUrl(f"https://www.jsw.com.cn/2026/0301/{i}.shtml", "article", None, NOW) for i in range(5)]
    )
    claimed = store.claim_due(limit=50, now=NOW + timedelta(days=2), lease_s=60, worker="w")
    store.finish_url(claimed[0].id, state="done", next_due_at=None)
    store.finish_url(claimed[1].id, state="retry", next_due_at=NOW)
    store.finish_url(claimed[2].id, state="retry", next_due_at=NOW)  # same state again: no move
    with planned.begin() as conn:
        conn.execute(update(urls).where(urls.c.state == "retry").values(state="failed"))
        conn.execute(delete(urls).where(urls.c.id == claimed[3].id))
    counts = store.frontier_counts()
    assert counts == true_counts(planned)
    assert counts["fetching"] >= 46 and counts["failed"] > 0


def test_the_frequent_errors_of_stats_read_only_the_urls_with_an_error(planned: Engine) -> None:
    text = plan(planned, stats.errors_query(10))
    assert "ix_urls_errors" in text, text
    for full_read in ("SCAN urls\n", "Seq Scan"):
        assert full_read not in text + "\n", text


def test_the_leases_and_the_refused_pages_read_their_partial_indexes(planned: Engine) -> None:
    """0010: no index holds every URL's state (a claim would rewrite a page of it per URL); the
    states looked up by state have partial indexes of their own, and the queries use them."""
    leases = select(urls.c.leased_by).where(state_is("fetching"), urls.c.leased_by.is_not(None)).distinct()
    refused = select(urls.c.id, urls.c.url).where(state_is("not_article"), urls.c.id > 0).order_by(urls.c.id)
    for statement, index in ((leases, "ix_urls_fetching"), (refused, "ix_urls_not_article")):
        text = plan(planned, statement)
        assert index in text, text
        assert "SCAN urls\n" not in text + "\n" and "Seq Scan" not in text, text
