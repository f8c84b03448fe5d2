"""A frontier of any size, written by direct inserts: the rows the plan tests and
``benchmarks/frontier.py`` build, shaped like a backfill under way.

Of every 100 URLs: 60 due (new, never fetched), 2 leased ("fetching", due when the lease ends), 20
fetched with a revisit ahead, 13 finished (no due time), 2 refused as not articles, 3 in retry (due
within the hour, with their error).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, text

from service.store.schema import urls

#: (state, share in 100, due time relative to now in seconds or None, last error)
SHAPE: tuple[tuple[str, int, int | None, str | None], ...] = (
    ("new", 60, -3600, None),
    ("fetching", 2, 600, None),
    ("done", 20, 86400, None),
    ("done_final", 13, None, None),
    ("not_article", 2, None, "not_article: list_page"),
    ("retry", 3, 1800, "timeout"),
)


def frontier_rows(start: int, n: int, *, now: datetime, seed: int = 1) -> Iterator[dict[str, Any]]:
    """``n`` URL rows numbered from ``start``, in the shape above (reproducible per seed)."""
    rnd = random.Random(seed * 1_000_003 + start)
    states = [(s, due, error) for s, share, due, error in SHAPE for _ in range(share)]
    for i in range(start, start + n):
        state, due, error = states[rnd.randrange(100)]
        day = date(2007, 1, 1) + timedelta(days=i % 7000)
        url = f"https://www.jsw.com.cn/{day:%Y}/{day:%m%d}/{i}.shtml"
        yield {
            "url_key": url.removeprefix("https:"),
            "url": url,
            "kind": "article",
            "state": "done" if state == "done_final" else state,
            "priority": 0,
            "published_on": day,
            "due_at": None if due is None else now + timedelta(seconds=due - rnd.randrange(600)),
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
            "last_error": error,
        }


def fill(conn: Connection, n: int, *, now: datetime, batch: int = 20_000) -> None:
    """Insert ``n`` URLs (executemany in batches), then refresh the planner's statistics."""
    for start in range(0, n, batch):
        conn.execute(insert(urls), list(frontier_rows(start, min(batch, n - start), now=now)))
    analyze(conn)


def analyze(conn: Connection) -> None:
    conn.execute(text("ANALYZE"))
