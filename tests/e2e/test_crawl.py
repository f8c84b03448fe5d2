"""The real daemon and backfill against a replica of the site served on 127.0.0.1, on SQLite and on
PostgreSQL; every assertion reads ``jinshan export`` (or the replica's request log)."""

from __future__ import annotations

import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Archiver, due_times, make_due, stop, wait_for, write_config
from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.replica.catalog import CHANNELS

pytestmark = pytest.mark.e2e

CONTRACT = (
    "url", "site_id", "title", "subtitle", "published_at", "channel", "source", "lead", "body_text", "images",
    "reporters", "correspondents", "interns", "photographers", "editors", "reviewers",
)  # fmt: skip
TODAY = datetime.now(UTC).date()
#: the first revisit of an article, in hours after its publication (far beyond a ``run --once``)
REVISIT_H = 1.0


def by_url(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in rows}


def assert_matches_truth(rows: list[dict[str, Any]], replica: Replica, *, since: date | None = None) -> None:
    """Every live article of the replica (published since ``since``) is exported once, field for field,
    or is recorded as an alias of the article whose text it repeats; nothing else is exported."""
    exported = by_url(rows)
    aliases = {a: r["url"] for r in rows for a in r["aliases"]}
    assert len(exported) == len(rows), "an article was exported twice"
    expected_urls = set()
    for truth in replica.articles():
        if since and truth["published_at"] and truth["published_at"][:10] < since.isoformat():
            continue
        expected_urls.add(truth["url"])
        if truth["url"] in aliases:
            continue
        row = exported.get(truth["url"])
        assert row is not None, f"missing: {truth['url']}"
        wrong = {k: (truth[k], row[k]) for k in CONTRACT if truth[k] != row[k]}
        assert not wrong, f"{truth['url']}: {wrong}"
    not_articles = set(replica.not_articles())
    assert not (set(exported) & not_articles), "a page that is not an article was stored"
    assert set(exported) <= expected_urls, f"unexpected articles: {set(exported) - expected_urls}"


def test_backfill_archives_the_whole_site(
    archiver: Archiver, replica: Replica, server: ReplicaServer
) -> None:
    done = archiver.run("backfill", "--since", "2010-01-01", "--until", TODAY.isoformat())
    assert done.returncode == 0, done.stderr
    rows = archiver.export()
    assert_matches_truth(rows, replica)
    old = [r for r in rows if "/content_" in r["url"] and "/PC/" not in r["url"]]
    assert old, "the old GBK pages were not archived"
    dups = replica.duplicates()
    for original, copy in dups:
        row = by_url(rows).get(original) or by_url(rows).get(copy)
        assert row is not None and (
            copy in row["aliases"] or original in row["aliases"] or row["duplicate_of"]
        )
    # politeness: only the replica's host, robots.txt read, the disallowed path never fetched
    paths = [r.path for r in server.requests]
    assert "/robots.txt" in paths
    # the e-paper walk ends where its archive does: not one request per day back to 2010
    assert sum(1 for p in paths if p.endswith("/node_01.html")) < (TODAY - replica.issues[0]).days + 40
    assert not any(p.startswith("/search/") for p in paths)
    assert all(r.user_agent and "jinshan-archiver" in r.user_agent for r in server.requests)


def test_backfill_rerun_fetches_no_article_twice(archiver: Archiver, server: ReplicaServer) -> None:
    assert archiver.run_here("backfill", "--since", "2026-10-01").returncode == 0
    first = archiver.export()
    before = len(server.requests)
    again = archiver.run("backfill", "--since", "2026-10-01")
    assert again.returncode == 0, again.stderr
    refetched = [
        r.path
        for r in server.requests[before:]
        if r.path.endswith((".shtml", "content_.html")) and "index" not in r.path
    ]
    assert refetched == [], f"articles fetched again: {refetched[:5]}"
    assert by_url(archiver.export()).keys() == by_url(first).keys()


def test_kill_9_then_resume_gives_the_same_archive(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    slow = write_config(tmp_path, server.base_url, database_url, fetch={"requests_per_second": 60.0})
    archiver = Archiver(slow, tmp_path)
    process = archiver.start("backfill", "--since", "2026-10-01")
    assert wait_for(lambda: sum(1 for r in server.requests if r.path.endswith(".shtml")) > 40, timeout=60)
    code, _, _ = stop(process, signal.SIGKILL)
    assert code == -signal.SIGKILL
    resumed = archiver.run("backfill", "--since", "2026-10-01")
    assert resumed.returncode == 0, resumed.stderr
    assert_matches_truth(archiver.export(), replica, since=date(2026, 10, 1))


def test_run_once_then_edits_deletions_and_new_articles(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    # pages print the time to the minute: publish on a minute boundary, so that the first revisit
    # is due exactly REVISIT_H after it; the hours then pass in the database (no wall-clock margin)
    published = datetime.now(UTC).replace(second=0, microsecond=0)
    archiver = Archiver(write_config(tmp_path, server.base_url, database_url,
                                     schedule={"revisit_hours": [REVISIT_H, 24.0]}), tmp_path)  # fmt: skip
    fresh = server.publish(4, at=published)
    first = archiver.run("run", "--once")
    assert first.returncode == 0, first.stderr
    rows = by_url(archiver.export())
    assert all(url in rows for url in fresh)
    assert due_times(database_url, fresh) == dict.fromkeys(fresh, published + timedelta(hours=REVISIT_H))
    server.edit(
        fresh[0],
        paragraphs=["市区一批新项目集中开工，总投资超过百亿元。", "项目涵盖先进制造、现代服务等领域。"],
    )
    server.delete(fresh[1])
    newer = server.publish(2)
    make_due(database_url, fresh, datetime.now(UTC) - timedelta(seconds=1))
    second = archiver.run("run", "--once")
    assert second.returncode == 0, second.stderr
    rows = by_url(archiver.export())
    assert all(url in rows for url in newer)
    edited = rows[fresh[0]]
    assert edited["version"] == 2 and edited["body_text"] == replica.expected(fresh[0])["body_text"]
    assert rows[fresh[1]]["gone_at"], "a deleted article is marked gone, never deleted"
    assert rows[fresh[2]]["version"] == 1 and rows[fresh[2]]["gone_at"] is None
    # an unchanged page is asked for conditionally and answered 304, never downloaded twice
    path = "/" + fresh[2].split("/", 3)[3]
    visits = [r for r in server.requests if r.path == path]
    assert len(visits) >= 2 and visits[0].status == 200
    assert all(v.status == 304 and v.if_none_match for v in visits[1:])


def test_first_cycle_pages_past_a_pinned_headline(tmp_path: Path, database_url: str) -> None:
    """The home page pins an older headline that also sits at the bottom of page 2 of a channel list:
    on an empty archive, ``run --once`` still pages every list to its end (within max_list_pages)."""
    replica = Replica(seed=11, n_articles=200, days=30, epaper_days=1, epaper_pages=1, old_articles=1)
    pinned = replica.pinned_entry()
    assert pinned is not None and replica.live_count(0) > 3 * 20, "the pinned link must not be the list's end"
    with ReplicaServer(replica) as server:
        config = write_config(tmp_path, server.base_url, database_url, schedule={"max_list_pages": 10})
        archiver = Archiver(config, tmp_path)
        assert pinned.path in httpx.get(server.url("/")).text
        done = archiver.run("run", "--once")
        assert done.returncode == 0, done.stderr
        rows = archiver.export()
    stored = set(by_url(rows)) | {a for r in rows for a in r["aliases"]}
    listed = {replica.url(e.path) for c in range(len(CHANNELS)) for e in replica.newest(10 * 20, channel=c)}
    missing = sorted(listed - stored)
    assert not missing, f"{len(missing)} listed articles never read, e.g. {missing[:3]}"


def test_faults_end_in_defined_outcomes(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    archiver = Archiver(
        write_config(tmp_path, server.base_url, database_url, fetch={"timeout_s": 2.0}), tmp_path
    )
    server.fault(pattern=r"/2026/10(0[1-5])/\d+\.shtml$", kind="status", status=503, times=2)
    # each 429 pauses the whole host for its Retry-After: two days of articles, not four
    server.fault(pattern=r"/2026/100[67]/\d+\.shtml$", kind="status", status=429, retry_after=1, times=1)
    server.fault(pattern=r"/2026/101[0-2]/\d+\.shtml$", kind="reset", times=1)
    server.fault(pattern=r"/2026/101[3-5]/\d+\.shtml$", kind="truncate", times=1)
    server.fault(pattern=r"/2026/101[6-7]/\d+\.shtml$", kind="slow", delay=6, times=1)
    server.fault(pattern=r"/2026/1020/\d+\.shtml$", kind="status", status=500)  # never recovers
    first = archiver.run("backfill", "--since", "2026-10-01")
    assert first.returncode == 0, first.stderr
    time.sleep(
        1.2
    )  # the frontier's retry time (retry_after_s = 1, +20 % jitter), counted from a failure before now
    second = archiver.run("backfill", "--since", "2026-10-01")
    assert second.returncode == 0, second.stderr
    rows = by_url(archiver.export())
    broken = {t["url"] for t in replica.articles() if "/2026/1020/" in t["url"]}
    healthy = {t["url"] for t in replica.articles() if t["published_at"][:10] >= "2026-10-01"} - broken
    missing = [u for u in healthy if u not in rows and not any(u in r["aliases"] for r in rows.values())]
    assert not missing, f"articles lost to transient faults: {missing[:5]}"
    assert not (broken & rows.keys()), "a page answered with 500 was stored"
    stats = archiver.run("stats", "--json")
    assert stats.returncode == 0 and '"retry"' in stats.stdout


def test_daemon_runs_until_sigterm_and_exits_cleanly(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    from tests.support.postgres import free_port

    port = free_port()
    config = write_config(tmp_path, server.base_url, database_url, web={"listen": f"127.0.0.1:{port}"},
                          schedule={"poll_minutes": 0.05, "drain_seconds": 1.0})  # fmt: skip
    archiver = Archiver(config, tmp_path)
    daemon = archiver.start("run")
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_for(healthy, timeout=60), "the daemon never became healthy"
        new = server.publish(3)
        assert wait_for(lambda: all(u in by_url(archiver.export()) for u in new), timeout=60)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
        assert 'jinshan_articles_total{outcome="new"}' in metrics
        # a standby (the lock is held), on its own port so that it can say so
        port2 = free_port()
        standby_dir = tmp_path / "standby"
        standby_dir.mkdir()
        config2 = write_config(standby_dir, server.base_url, database_url, web={"listen": f"127.0.0.1:{port2}"},
                               archive={"path": str(tmp_path / "warc")})  # fmt: skip
        second = Archiver(config2, standby_dir).start("run")

        def standby() -> bool:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port2}/healthz", timeout=1)
            except httpx.HTTPError:
                return False
            return answer.status_code == 200 and "standby" in answer.text

        assert wait_for(standby, timeout=60), "the second daemon never reported standby"
        assert second.poll() is None
        code2, _, err2 = stop(second)
        assert code2 == 0, err2
    finally:
        code, took, err = stop(daemon)
    assert code == 0, err
    assert took < 10


def test_daemon_and_backfill_at_once(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    config = write_config(
        tmp_path, server.base_url, database_url, schedule={"poll_minutes": 0.05, "drain_seconds": 0.5}
    )
    archiver = Archiver(config, tmp_path)
    daemon = archiver.start("run")

    def complete() -> bool:
        try:
            assert_matches_truth(archiver.export(), replica)
        except AssertionError:
            return False
        return True

    try:
        done = archiver.run("backfill", "--since", "2010-01-01")
        assert done.returncode == 0, done.stderr
        # the backfill leaves the URLs the daemon holds leases on to the daemon: on a busy machine
        # those may still be in flight when it ends; the daemon's next drains finish them
        wait_for(complete, timeout=60, every=1.0)
    finally:
        code, _, err = stop(daemon)
    assert code == 0, err
    assert_matches_truth(archiver.export(), replica)
