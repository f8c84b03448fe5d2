"""A person's list: their current credits, each article once, newest first."""

from __future__ import annotations

from datetime import datetime, timedelta

from service.model import Credits
from service.store.browse import ListFilter, list_ids, person_by_name
from service.store.repo import Store
from tests.integration.store.builders import CST, SEEN, make_article


def test_two_roles_on_one_article_list_it_once_and_old_versions_drop_out(store: Store) -> None:
    def put(n: int, day: int, credits: Credits, text_seed: int = 0) -> int:  # later text is seen later
        article = make_article(f"https://www.jsw.com.cn/2026/03{day:02d}/19{n:05d}.shtml", seed=n * 10 + text_seed,
                               published_at=datetime(2026, 3, day, 9, tzinfo=CST), credits=credits)  # fmt: skip
        seen = SEEN + timedelta(hours=text_seed)
        return store.store_article(article, url_id=None, fetch_id=None, seen_at=seen).article_id

    both = put(1, 2, Credits(reporters=("张三",), photographers=("张三",)))
    older = put(2, 1, Credits(reporters=("张三",)))
    dropped = put(3, 3, Credits(reporters=("张三",)))
    again = put(3, 3, Credits(reporters=("李四",)), text_seed=1)  # a new version without 张三
    assert again == dropped, "the same URL: a new version of the same article"
    with store.engine.connect() as conn:
        pid = person_by_name(conn, "张三")
        assert pid is not None
        got, nxt = list_ids(conn, ListFilter(person_id=pid), cursor=None, limit=10)
        assert [c.id for c in got] == [both, older] and nxt is None
        assert dropped not in [c.id for c in got]
        first, nxt = list_ids(conn, ListFilter(person_id=pid), cursor=None, limit=1)
        assert [c.id for c in first] == [both] and nxt is not None
        rest, _ = list_ids(conn, ListFilter(person_id=pid), cursor=nxt, limit=1)
        assert [c.id for c in rest] == [older]
