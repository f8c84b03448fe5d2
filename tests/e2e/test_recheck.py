"""``jinshan recheck`` against the replica after a backfill: the edits and the deletion found, the
unchanged articles asked for conditionally and stored as they were, a re-run that resumes, a gone
article that came back; and every stored article left with a due time within the sweep's period."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Archiver, due_times, stop, write_config
from tests.e2e.replica import Replica, ReplicaServer

pytestmark = pytest.mark.e2e

SINCE, UNTIL = date(2026, 10, 1), date(2026, 10, 31)


def _site_articles(replica: Replica, n: int) -> list[str]:
    """``n`` single-page site articles of the range, not copied by the e-paper."""
    copied = {u for pair in replica.duplicates() for u in pair}
    urls = [
        t["url"]
        for t in replica.articles()
        if "/2026/" in t["url"] and t["url"] not in copied and t["published_at"][:10] <= UNTIL.isoformat()
    ]
    return urls[3 : 3 + n]


def _versions(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {r["url"]: r["version"] for r in rows}


def _article_requests(server: ReplicaServer, since: int) -> list[Any]:
    return [r for r in server.requests[since:] if r.path.endswith((".shtml", ".html", ".htm"))
            and "/index" not in r.path and "/node_" not in r.path]  # fmt: skip


def test_recheck_finds_the_edits_and_the_deletion_with_conditional_requests(
    archiver: Archiver, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    assert archiver.run_here("backfill", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()).returncode == 0
    before = archiver.export()
    # every stored article is on schedule: its next check within the sweep's period
    now = datetime.now(UTC)
    dues = due_times(database_url, [r["url"] for r in before])
    assert len(dues) == len(before) and all(d is not None for d in dues.values()), "an article fell off the schedule"
    assert all(now < d <= now + timedelta(days=180) for d in dues.values() if d is not None)

    retitled, extended, deleted = _site_articles(replica, 3)
    server.edit(retitled, title="金山网更正：" + replica.expected(retitled)["title"])
    server.edit(extended)  # a correction paragraph appended
    server.delete(deleted)
    in_range = [r for r in before if r["published_at"] and SINCE.isoformat() <= r["published_at"][:10] <= UNTIL.isoformat()]
    start = len(server.requests)

    done = archiver.run("recheck", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["changed"] == 2 and summary["gone"] == 1 and summary["failed"] == 0
    assert summary["checked"] == len(in_range) == summary["marked"]
    assert "checked=" in done.stderr and "came_back=0" in done.stderr

    after = archiver.export()
    old, new = _versions(before), _versions(after)
    grew = {u for u in new if new[u] != old.get(u)}
    assert grew == {retitled, extended}, grew
    assert all(new[u] == old[u] + 1 for u in grew), "exactly one new version each"
    rows = {r["url"]: r for r in after}
    assert rows[retitled]["title"] == replica.expected(retitled)["title"]
    assert rows[extended]["body_text"] == replica.expected(extended)["body_text"]
    assert rows[deleted]["gone_at"] and sum(1 for r in after if r["gone_at"]) == 1

    asked = _article_requests(server, start)
    conditional = [r for r in asked if r.if_none_match or r.if_modified_since]
    assert len(conditional) >= 0.9 * len(asked), (len(conditional), len(asked))
    # about one request per article: only multi-page articles and the changed ones ask for more
    assert len(in_range) <= len(asked) <= len(in_range) * 1.15 + 2, (len(asked), len(in_range))


def test_a_rerun_resumes_and_a_gone_article_comes_back(
    archiver: Archiver, replica: Replica, server: ReplicaServer
) -> None:
    assert archiver.run_here("backfill", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()).returncode == 0
    flaky = _site_articles(replica, 5)
    for url in flaky:
        server.fault(path="/" + url.split("/", 3)[3], kind="status", status=503)
    first = archiver.run_here("recheck", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
    assert first.returncode == 1, first.stderr
    assert json.loads(first.stdout)["failed"] == len(flaky), first.stdout + first.stderr[-3000:]
    server.clear_faults()
    start = len(server.requests)
    again = archiver.run_here("recheck", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
    assert again.returncode == 0, again.stderr
    assert "resuming the recheck" in again.stderr
    assert json.loads(again.stdout)["checked"] == len(flaky)
    assert {"/" + u.split("/", 3)[3] for u in flaky} == {r.path for r in _article_requests(server, start)}

    gone = flaky[0]
    server.delete(gone)
    assert json.loads(archiver.run_here("recheck", "--since", SINCE.isoformat()).stdout)["gone"] == 1
    server.restore(gone)
    back = archiver.run_here("recheck", "--gone")
    assert back.returncode == 0, back.stderr
    counts = json.loads(back.stdout)
    assert counts["checked"] == 1 and counts["came_back"] == 1
    assert not {r["url"]: r for r in archiver.export()}[gone]["gone_at"]


def test_bad_options_exit_2(archiver: Archiver) -> None:
    done = archiver.run_here("recheck", "--since", "2026-10-05", "--until", "2026-10-01")
    assert done.returncode == 2 and "--until is before --since" in done.stderr
    assert archiver.run_here("recheck", "--since", "yesterday").returncode == 2


def test_recheck_beside_the_daemon_checks_each_article_once(tmp_path: Path, server: ReplicaServer) -> None:
    """The daemon and a recheck on one database: they share the URLs (the daemon may take some as
    sweep checks), no article is fetched twice, nothing stays leased, both exit cleanly."""
    archiver = Archiver(write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'archive.db'}",
                                     schedule={"drain_seconds": 1.0}), tmp_path)  # fmt: skip
    assert archiver.run_here("backfill", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat()).returncode == 0
    stored = len(archiver.export())
    daemon = archiver.start("run")
    try:
        start = len(server.requests)
        done = archiver.run("recheck", "--since", SINCE.isoformat(), "--until", UNTIL.isoformat())
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert 0 < summary["checked"] <= summary["marked"] <= stored
        time.sleep(3)  # the daemon's drain takes what the recheck left to it, if anything
    finally:
        code, _, err = stop(daemon)
    assert code == 0, err[-2000:]
    asked = [r.path for r in _article_requests(server, start)]
    # each article once (a multi-page article's further pages are its own paths)
    assert len(asked) == len(set(asked)), [p for p in set(asked) if asked.count(p) > 1][:5]
    stats = json.loads(archiver.run_here("stats", "--json").stdout)
    assert stats["frontier"]["fetching"] == 0
    assert stats["counts"]["versions"] == stats["counts"]["articles"] + stats["counts"]["near_duplicates"]
