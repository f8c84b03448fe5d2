"""An archive the replica filled, and ``jinshan serve`` on it: shared by the web view's tests.

The real commands fill it: a backfill of the whole replica, then two daemon cycles around an edit
(so one article has two versions) and a deletion. ``jinshan serve`` then runs as a subprocess on a
free port of 127.0.0.1; the address is read from the line it prints.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import Archiver, make_due, stop, write_config
from tests.e2e.replica import Replica, ReplicaServer

EDITED_PARAGRAPHS = ["市区一批新项目集中开工，总投资超过百亿元。", "项目涵盖先进制造、现代服务等领域。"]


@dataclass
class WebArchive:
    archiver: Archiver
    replica: Replica
    server: ReplicaServer
    base: str  # http://127.0.0.1:PORT
    edited_url: str
    rows: list[dict[str, Any]]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)

    def article_id(self, url: str) -> int:
        """The archive's id of the article at ``url`` (through the API's filter-free listing, copies
        included)."""
        for row in self.all_api_rows():
            if row["url"] == url:
                return int(row["id"])
        raise KeyError(url)

    def all_api_rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = self.base + "/api/articles?limit=200&include_duplicates=true"
        while url:
            page = httpx.get(url, timeout=10).json()
            out += page["articles"]
            url = page["next"]
        return out


def fill(tmp: Path, server: ReplicaServer, database_url: str) -> tuple[Archiver, str]:
    """Backfill the replica, then publish, run a cycle, edit, run again: an edited article."""
    backfill = Archiver(write_config(tmp, server.base_url, database_url, archive={"resources": "page"}), tmp)
    done = backfill.run("backfill", "--since", "2010-01-01")
    assert done.returncode == 0, done.stderr
    # the first revisit an hour after publication; that hour passes in the database (make_due)
    archiver = Archiver(write_config(tmp, server.base_url, database_url, schedule={"revisit_hours": [1.0, 24.0]},
                                     archive={"resources": "page"}), tmp)  # fmt: skip
    fresh = server.publish(2, at=datetime.now(UTC).replace(second=0, microsecond=0))
    first = archiver.run("run", "--once")
    assert first.returncode == 0, first.stderr
    server.edit(fresh[0], paragraphs=EDITED_PARAGRAPHS)
    make_due(database_url, fresh, datetime.now(UTC) - timedelta(seconds=1))
    second = archiver.run("run", "--once")
    assert second.returncode == 0, second.stderr
    return archiver, fresh[0]


def serve(archiver: Archiver, *extra: str) -> Iterator[str]:
    """``jinshan serve`` on a free port; yields its base URL; stopped with SIGTERM after."""
    process = archiver.start("serve", "--listen", "127.0.0.1:0", *extra)
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"http://([\d.]+):(\d+)/", line)
    if found is None:
        process.kill()
        raise AssertionError(f"serve printed no address: {line!r} {process.stderr.read()}")
    base = f"http://{found.group(1)}:{found.group(2)}"
    try:
        yield base
    finally:
        code, _, err = stop(process)
        assert code in (0, -15), err


def start(tmp: Path, database_url: str) -> Iterator[WebArchive]:
    replica = Replica(seed=14, n_articles=60, days=12, epaper_days=2, epaper_pages=2, old_articles=2)
    with ReplicaServer(replica) as server:
        archiver, edited = fill(tmp, server, database_url)
        rows = archiver.export()
        for base in serve(archiver):
            yield WebArchive(archiver, replica, server, base, edited, rows)


def wait_ready(base: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("serve never answered")


__all__ = ["WebArchive", "start", "subprocess"]
