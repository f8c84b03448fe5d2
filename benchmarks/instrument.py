"""Run ``jinshan`` with the crawl benchmark's instruments: SQL statements and commits counted by
SQLAlchemy event listeners, and optionally a cProfile of the whole process.

    python benchmarks/instrument.py OUT.json [--profile OUT.prof] -- JINSHAN_ARGS...

Writes ``{"statements": {first words: n}, "commits": n, "transactions": {what: n}, "shapes": {shape:
n}}`` to OUT.json at exit (``transactions``: the store's write transactions by purpose, counted at
``Store._write``; ``shapes``: the statements of each committed transaction, in order; SQLite's
``BEGIN`` is not counted: it opens the transaction). An ``executemany`` counts once: one call into
the driver, however many rows.
"""

from __future__ import annotations

import atexit
import cProfile
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

statements: Counter[str] = Counter()
commits = 0
transactions: Counter[str] = Counter()
shapes: Counter[str] = Counter()
_current: list[str] = []


@event.listens_for(Engine, "before_cursor_execute")
def _statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
    if sql.startswith("BEGIN"):  # SQLite's, sent through the connection by the "begin" event
        return
    words = sql.split(None, 3)
    name = " ".join(words[: 3 if words and words[0] in ("INSERT", "DELETE") else 2])
    statements[name] += 1
    _current.append(name)


@event.listens_for(Engine, "begin")
def _begin(_conn: Any) -> None:
    if _current:  # statements run outside any transaction
        shapes["(no transaction) " + " | ".join(_current)] += 1
    _current.clear()


@event.listens_for(Engine, "commit")
def _commit(_conn: Any) -> None:
    global commits
    commits += 1
    shapes[" | ".join(_current)] += 1
    _current.clear()


@event.listens_for(Engine, "rollback")
def _rollback(_conn: Any) -> None:
    if _current:  # a read's transaction ends so
        shapes["(no commit) " + " | ".join(_current)] += 1
    _current.clear()


def main() -> None:
    out = Path(sys.argv[1])
    rest = sys.argv[2:]
    profile_to = None
    if rest[:1] == ["--profile"]:
        profile_to, rest = rest[1], rest[2:]
    if rest[:1] == ["--"]:
        rest = rest[1:]
    sys.argv = ["jinshan", *rest]
    from service.app.cli import app
    from service.store.repo import Store

    real = Store._write

    def write(store: Store, work: Any, *, what: str, snapshot: bool = False) -> Any:
        transactions[what.split(" ")[0]] += 1
        return real(store, work, what=what, snapshot=snapshot)

    Store._write = write  # type: ignore[method-assign]  # the store's one write path

    atexit.register(lambda: out.write_text(json.dumps({"statements": dict(statements), "commits": commits,
                                                       "transactions": dict(transactions),
                                                       "shapes": dict(shapes)})))  # fmt: skip
    # CPU time, not wall time: on a loaded machine waits would swamp the profile
    profiler = cProfile.Profile(time.process_time) if profile_to else None
    if profiler:
        atexit.register(lambda: profiler.dump_stats(profile_to))
        profiler.enable()
    try:
        app()
    finally:
        if profiler:
            profiler.disable()


if __name__ == "__main__":
    main()
