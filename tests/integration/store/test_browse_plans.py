"""The archive view's deep pages are index seeks whatever the page number (SQLite's plans)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from service.settings import DatabaseSettings
from service.store import db
from service.store.browse import Cursor, ListFilter, _page, channels, person_lines

#: a cursor deep in a large archive (page 1000 of 50 at 1,000,000 articles)
DEEP = Cursor(datetime(2026, 3, 1, 8, tzinfo=UTC), 950050)


def plan_of(tmp_path: Path, flt: ListFilter) -> str:
    """SQLite's query plan for the page after ``DEEP``, of the statement ``_page`` really runs."""
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'plan.db'}"))
    db.upgrade(engine)
    sent: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        _page(conn, flt, DEEP, 51, dated=True)
        statement, parameters = sent[-1]
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    engine.dispose()
    return "\n".join(str(r[-1]) for r in rows)


def test_an_api_page_by_cursor_seeks_the_date_index(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, ListFilter(originals_only=False))
    assert re.search(
        r"SEARCH articles USING (COVERING )?INDEX ix_articles_published_at_id \(published_at", plan
    ), plan
    assert "TEMP B-TREE" not in plan, plan  # no sort: the index gives the order


def test_a_channel_page_by_cursor_seeks_the_channel_index(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, ListFilter(channel="镇江舆情"))
    assert re.search(
        r"SEARCH articles USING (COVERING )?INDEX ix_articles_channel_published_at_id \(channel=\? AND published_at",
        plan,
    ), plan
    assert "TEMP B-TREE" not in plan, plan


def plans_of(tmp_path: Path, work: Any) -> list[str]:
    """SQLite's plans of every statement ``work(conn)`` runs on an empty archive."""
    engine = db.make_engine(DatabaseSettings(url=f"sqlite:///{tmp_path / 'plans.db'}"))
    db.upgrade(engine)
    sent: list[tuple[str, Any]] = []

    def keep(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        work(conn)
        ran = list(sent)
        plans = ["\n".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p).all())
                 for s, p in ran]  # fmt: skip
    engine.dispose()
    return plans


def test_the_people_list_counts_from_the_index_alone(tmp_path: Path) -> None:
    plans = plans_of(tmp_path, lambda conn: person_lines(conn, [(i, f"人{i}") for i in range(1, 51)]))
    assert len(plans) == 2
    for plan in plans:
        assert "USING COVERING INDEX ix_credits_person_id_role_article_id (person_id=?)" in plan, plan
        assert "USING COVERING INDEX ix_articles_duplicate_of" in plan, plan  # the copies: few
        assert "SCAN" not in plan, plan


def test_channel_sizes_walk_the_channel_index_and_the_copies(tmp_path: Path) -> None:
    every, copies = plans_of(tmp_path, channels)
    assert "COVERING INDEX ix_articles_channel_published_at_id" in every, every
    assert "INDEX ix_articles_duplicate_of" in copies, copies
