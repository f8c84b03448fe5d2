"""Complete captures: a backfill of the replica archives each article page with its photos, its
stylesheet (and what the stylesheet uses) and the shared logo, politely, each resource once; a
kill -9 in the middle of a page's resources loses nothing. SQLite and PostgreSQL."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from service.fetch.archive import read_response
from service.settings import DatabaseSettings
from service.store.db import make_engine
from service.store.schema import page_resources, resources
from tests.e2e.conftest import Archiver, wait_for, write_config
from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.replica.site import STATIC, photo
from tests.e2e.test_operation import most_in_one_second

pytestmark = pytest.mark.e2e

RATE, CONCURRENCY = 40.0, 2
#: what every page of the site uses besides its photos
SHARED = ("/css/style.css", "/css/print.css", "/fonts/jsw.woff", "/images/bg.png", "/images/logo.png",
          "/images/spacer.gif", "/images/blank.gif")  # fmt: skip


@pytest.fixture()
def replica() -> Replica:
    return Replica(seed=5, n_articles=24, days=6, epaper_days=1, epaper_pages=2, old_articles=2,
                   multipage_share=0.3)  # fmt: skip


def _config(tmp: Path, server: ReplicaServer, database_url: str) -> Archiver:
    fetch = {"requests_per_second": RATE, "concurrency": CONCURRENCY}
    return Archiver(write_config(tmp, server.base_url, database_url, fetch=fetch, archive={"resources": "page"}), tmp)


def _resource_rows(database_url: str) -> list[dict[str, Any]]:
    engine = make_engine(DatabaseSettings(url=database_url))
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(resources))]
            links = conn.execute(select(page_resources.c.resource_id)).scalars().all()
    finally:
        engine.dispose()
    uses = Counter(links)
    for row in rows:
        row["pages"] = uses[row["id"]]
    return rows


def _photos(replica: Replica) -> set[str]:
    return {urlsplit(i["url"]).path for truth in replica.articles() for i in truth["images"]}


def test_a_backfill_archives_each_page_with_its_photos_style_and_logo_once(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    archiver = _config(tmp_path, server, database_url)
    done = archiver.run("backfill", "--since", "2010-01-01")
    assert done.returncode == 0, done.stderr
    requested = Counter(r.path for r in server.requests)
    photos = _photos(replica)
    assert photos, "the replica's articles carry no photo"
    # every photo (the lazy ones too, named in data-src) and everything the pages need: once each
    for path in photos | set(SHARED):
        assert requested[path] == 1, (path, requested[path])
    assert requested["/images/unused.png"] == 0  # named in a CSS comment only
    # each e-paper page's scan, under its own setting; its PDF only when asked (off by default)
    scans = [p for p in requested if p.startswith("/ZJRB/PC/images/")]
    assert scans and all(p.endswith(".jpg") and requested[p] == 1 for p in scans)
    rows = {urlsplit(r["url"]).path: r for r in _resource_rows(database_url)}
    for path in photos:
        row = rows[path]
        assert row["status"] == "archived" and row["kind"] == "image" and row["content_type"] == "image/png"
        archived = read_response(tmp_path / "warc" / row["warc_file"], row["warc_offset"])
        assert archived.body == photo(path) and row["size"] == len(photo(path))
    assert rows["/css/style.css"]["kind"] == "stylesheet" and rows["/fonts/jsw.woff"]["kind"] == "font"
    assert all(rows[p]["kind"] == "scan" and rows[p]["status"] == "archived" for p in scans)
    assert read_response(tmp_path / "warc" / rows["/css/style.css"]["warc_file"],
                         rows["/css/style.css"]["warc_offset"]).body == STATIC["/css/style.css"][0]  # fmt: skip
    # the logo is one resource used by every page of the current site
    site = {t["url"] for t in replica.articles() if t["url"].endswith(".shtml")}
    assert rows["/images/logo.png"]["pages"] == len(site)
    # the same GIF under two names: one full record, one revisit that refers to it
    gifs = [rows["/images/spacer.gif"], rows["/images/blank.gif"]]
    assert sorted(g["revisit"] for g in gifs) == [False, True]
    assert len({g["payload_digest"] for g in gifs}) == 1
    # politely: robots.txt asked, the rate and the concurrency held, resources after the pages
    assert requested["/robots.txt"] >= 1 and requested["/search/"] == 0
    assert most_in_one_second([r.at for r in server.requests]) <= RATE + 1
    assert max(r.in_flight for r in server.requests) <= CONCURRENCY
    stats = archiver.run_here("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert '"resources"' in stats.stdout


def test_kill_9_among_the_resources_loses_nothing_and_fetches_each_once(
    tmp_path: Path, replica: Replica, server: ReplicaServer, database_url: str
) -> None:
    archiver = _config(tmp_path, server, database_url)
    # the photos answer slowly, so the kill falls among a page's resources
    server.fault(pattern=r"^/uploads/", kind="slow", delay=0.3)
    process = archiver.start("backfill", "--since", "2010-01-01", "--source", "site")
    try:
        assert wait_for(lambda: sum(r.path.startswith("/uploads/") for r in server.requests) >= 3, timeout=90)
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    server.clear_faults()
    done = archiver.run("backfill", "--since", "2010-01-01", "--source", "site")
    assert done.returncode == 0, done.stderr
    requested = Counter(r.path for r in server.requests)
    photos = {p for p in _photos(replica) if "/PC/" not in p}  # the e-paper was not asked for
    rows = {urlsplit(r["url"]).path: r for r in _resource_rows(database_url)}
    assert all(rows[p]["status"] == "archived" for p in photos | set(SHARED)), "a resource was lost"
    twice = [p for p in photos | set(SHARED) if requested[p] > 1]
    # only what was in flight at the kill (its record written, its row not yet) may be asked again
    assert len(twice) <= CONCURRENCY, twice
    assert all(requested[p] <= 2 for p in photos | set(SHARED))


def test_a_refused_resource_says_why(tmp_path: Path, replica: Replica, server: ReplicaServer) -> None:
    db = f"sqlite:///{tmp_path / 'archive.db'}"
    archiver = Archiver(write_config(tmp_path, server.base_url, db, fetch={"requests_per_second": RATE,
                                     "max_resource_bytes": 2048}, archive={"resources": "page"}), tmp_path)  # fmt: skip
    server.fault(path="/images/logo.png", kind="status", status=404)
    done = archiver.run("backfill", "--since", "2010-01-01", "--source", "site")
    assert done.returncode in (0, 1), done.stderr
    rows = {urlsplit(r["url"]).path: r for r in _resource_rows(db)}
    assert rows["/images/logo.png"]["status"] == "missing" and rows["/images/logo.png"]["why_not"] == "http_404"
    big = [r for p, r in rows.items() if p.startswith("/uploads/")]
    assert big and all(r["status"] == "missing" and r["why_not"] == "too_large" for r in big)
