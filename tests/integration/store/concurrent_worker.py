"""One OS process of the concurrency tests: ``python concurrent_worker.py MODE DB_URL START_AT``.

Waits until the wall clock reaches START_AT (so both processes hit the database at the same
moment), then does MODE and prints one JSON line:

- ``upgrade``: migrate the database (both processes at once, from empty);
- ``store``: store the same ARTICLES articles in the same order, then claim the frontier dry.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from service.settings import DatabaseSettings, DedupSettings
from service.store import db
from service.store.repo import NewUrl, Store
from tests.integration.store.builders import SEEN, make_article

ARTICLES = 40


def main(mode: str, url: str, start_at: float) -> dict[str, object]:
    engine = db.make_engine(DatabaseSettings(url=url, busy_timeout_s=60))
    time.sleep(max(0.0, start_at - time.time()))
    if mode == "upgrade":
        db.upgrade(engine)
        return {"revision": db.current_revision(engine)}
    store = Store(engine, DedupSettings())
    outcomes = []
    for i in range(ARTICLES):
        a = make_article(
            f"https://www.jsw.com.cn/2026/0301/19{i:05d}.shtml", seed=500 + i, site_id=f"19{i:05d}"
        )
        out = store.store_article(a, url_id=None, fetch_id=None, seen_at=SEEN + timedelta(seconds=i))
        outcomes.append([out.kind, out.article_id])
    store.add_urls(
        NewUrl(f"https://www.jsw.com.cn/2026/0302/{n}.shtml", "article", None, SEEN) for n in range(100)
    )
    claimed: list[int] = []
    while batch := store.claim_due(limit=7, now=SEEN, lease_s=600, worker=f"pid{os.getpid()}"):
        claimed += [c.id for c in batch]
    return {"outcomes": outcomes, "claimed": claimed}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2], float(sys.argv[3]))))
