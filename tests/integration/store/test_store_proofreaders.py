"""校对 is its own role, proofreaders: stored, exported (JSON lines and CSV), shown and filtered on."""

from __future__ import annotations

import csv
import io
import json

from service.app.web.app import ROLE_NAMES
from service.model import CREDIT_ROLES, Credits
from service.store import export
from service.store.browse import ListFilter, article, list_ids, person_by_name
from service.store.repo import Store
from tests.integration.store.builders import SEEN, make_article

CREDITS = Credits(reporters=("张三",), editors=("丁敏华",), reviewers=("杨佩佩",), proofreaders=("钱慧",))


def test_proofreaders_are_stored_exported_and_listed(store: Store) -> None:
    stored = store.store_article(make_article(credits=CREDITS), url_id=None, fetch_id=None, seen_at=SEEN)
    (row,) = list(store.iter_export(since=None, until=None))
    assert row["proofreaders"] == ["钱慧"] and row["reviewers"] == ["杨佩佩"]
    buf = io.StringIO()
    export.write_csv(store.iter_export(since=None, until=None), buf)
    (line,) = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert line["proofreaders"] == "钱慧" and line["reviewers"] == "杨佩佩"
    buf = io.StringIO()
    export.write_jsonl(store.iter_export(since=None, until=None), buf)
    assert json.loads(buf.getvalue())["proofreaders"] == ["钱慧"]
    with store.engine.connect() as conn:
        view = article(conn, stored.article_id)
        assert view is not None and [name for _, name in view.people["proofreaders"]] == ["钱慧"]
        pid = person_by_name(conn, "钱慧")
        assert pid is not None
        got, _ = list_ids(conn, ListFilter(person_id=pid, role="proofreaders"), cursor=None, limit=10)
        assert [c.id for c in got] == [stored.article_id]
        none, _ = list_ids(conn, ListFilter(person_id=pid, role="reviewers"), cursor=None, limit=10)
        assert none == []


def test_every_role_has_a_label_on_the_pages() -> None:
    assert set(ROLE_NAMES) == set(CREDIT_ROLES) and ROLE_NAMES["proofreaders"].startswith("校对")
