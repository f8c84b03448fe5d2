"""A soak of the real daemon with its schedule compressed (revisits 7 s, 18 s and 36 s after
publication, then sweep checks at 52 s and every 35 s), the replica editing its newest articles as
it goes: every edit made before an article's last fetch is stored as a version. Bounded: about
100 seconds.

Before the schedule was kept from the publication time, a revisit answered 304 moved the next one to
the publication date's midnight: each article got one revisit, then none, and no edit was stored."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import Archiver, stop, wait_for, write_config
from tests.e2e.replica import ReplicaServer

pytestmark = pytest.mark.e2e

#: how long the replica edits, seconds; the daemon runs a little longer to fetch what is due
EDIT_FOR_S, EDIT_EVERY_S, RUN_AFTER_S = 75.0, 1.5, 15.0
#: an edit this close to a fetch of its article may be seen by that fetch or by the next one
AMBIGUOUS_S = 1.0


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_every_edit_before_an_articles_last_fetch_is_stored(
    tmp_path: Path, server: ReplicaServer
) -> None:
    # SQLite only: the schedule, not the database, is under test (the e2e suite runs both elsewhere)
    config = write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'archive.db'}", schedule={
        "revisit_hours": [0.002, 0.005, 0.01], "sweep_ages_days": [0.0006], "sweep_every_days": 0.0004,
        "poll_minutes": 0.1, "drain_seconds": 1.0})  # fmt: skip
    archiver = Archiver(config, tmp_path)
    assert archiver.run_here("db", "upgrade").returncode == 0
    fresh = server.publish(12)
    daemon = archiver.start("run")
    edits: dict[str, list[float]] = {url: [] for url in fresh}
    done = threading.Event()

    def editor() -> None:
        rng = random.Random(5)
        deadline = time.monotonic() + EDIT_FOR_S
        while time.monotonic() < deadline and not done.wait(EDIT_EVERY_S):
            url = rng.choice(fresh)
            server.edit(url)  # a correction paragraph appended: a new text each time
            edits[url].append(time.time())

    try:
        assert wait_for(lambda: all(u in {r["url"] for r in archiver.export()} for u in fresh), timeout=60)
        thread = threading.Thread(target=editor)
        thread.start()
        thread.join(EDIT_FOR_S + 10)
        time.sleep(RUN_AFTER_S)
    finally:
        done.set()
        code, _, err = stop(daemon)
    assert code == 0, err[-2000:]

    stored = {r["url"]: r for r in archiver.export()}
    fetches = {url: sorted(r.at for r in server.requests if r.path == _path(url) and r.status in (200, 304))
               for url in fresh}  # fmt: skip
    seen_edits = 0
    for url in fresh:
        times = fetches[url]
        # the edits a fetch could see: those between it and the fetch before it (the first fetch saw
        # the article as published); an interval whose only edits are at a fetch may go either way
        sure = surely_not = 0
        for before, after in itertools.pairwise(times):
            inside = [e for e in edits[url] if before < e <= after]
            clear = [e for e in inside if before + AMBIGUOUS_S < e < after - AMBIGUOUS_S]
            sure += bool(clear)
            surely_not += not inside and not any(abs(e - before) < AMBIGUOUS_S for e in edits[url])
        intervals = len(times) - 1
        versions = stored[url]["version"] - 1
        assert sure <= versions <= intervals - surely_not + 1, (url, sure, versions, intervals, surely_not)
        seen_edits += sure
        # revisits kept coming after the 304s: more than one revisit per article (the old schedule
        # gave one, then none: 2 fetches). Not more is asked: a sweep check spread by its jitter
        # may fall just after the run's end on a busy machine
        assert len(times) >= 3, (url, len(times))
    assert seen_edits >= 10, f"too few edits were observable to judge ({seen_edits})"
    stats = json.loads(archiver.run_here("stats", "--json").stdout)
    assert stats["counts"]["changed_articles"] >= 5
