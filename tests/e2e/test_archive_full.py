"""A backfill whose WARC folder fills up (a real, small tmpfs): it stops with one clear error and
exit 1 (or 2 when nothing could be stored), never "backfill ok" with articles missing; the pages it
could not archive are due again without an attempt charged, every WARC file it leaves is valid, and
a re-run once space is freed fetches the missing articles."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.fetch.archive import iter_records
from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import Replica, ReplicaServer

pytestmark = pytest.mark.e2e

SINCE = "2026-10-01"
#: the site's articles (the backfill here is of the site, not the e-paper)
SITE = re.compile(r"/\d{4}/\d{4}/\d+\.shtml$")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 KiB tmpfs at ``tmp_path/warc``; skipped where mounting is not permitted."""
    mount = tmp_path / "warc"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("needs the mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96k", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def whole_files(folder: Path) -> list[tuple[str, int, int]]:
    """(name, size, bytes in complete records) of every WARC file: equal when the file is valid."""
    out = []
    for path in sorted(folder.glob("*.warc.gz")):
        records = list(iter_records(path))
        out.append((path.name, path.stat().st_size, sum(r.length for r in records)))
    return out


def stored_urls(archiver: Archiver) -> set[str]:
    """The URLs of the stored articles and their aliases (a link may redirect to its article)."""
    return {u for r in archiver.export() for u in (r["url"], *r["aliases"])}


def url_rows(db: Path) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(db) as conn:
        return {u: (s, a) for u, s, a in conn.execute("SELECT url, state, attempts FROM urls")}


def test_a_full_warc_folder_stops_the_backfill_and_a_rerun_fetches_the_rest(
    tmp_path: Path, replica: Replica, server: ReplicaServer, small_disk: Path
) -> None:
    db = tmp_path / "archive.db"
    config = write_config(tmp_path, server.base_url, f"sqlite:///{db}", archive={"path": str(small_disk)})
    archiver = Archiver(config, tmp_path)
    first = archiver.run("backfill", "--since", SINCE, "--source", "site")
    assert first.returncode in (1, 2), first.stderr
    errors = [line for line in first.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and str(small_disk) in errors[0], first.stderr
    assert "backfill ok" not in first.stderr and "Traceback" not in first.stderr
    for name, size, whole in whole_files(small_disk):
        assert size == whole, f"{name} ends in a torn record"
    stored = stored_urls(archiver)
    wanted = {a["url"] for a in replica.articles() if a["published_at"][:10] >= SINCE and SITE.search(a["url"])}
    missing = wanted - stored
    assert missing, "the disk was meant to fill up before the end"
    rows = url_rows(db)
    not_archived = [u for u, (state, _) in rows.items() if state == "new" and u in missing]
    assert not_archived and all(rows[u][1] == 0 for u in not_archived)  # no attempt charged

    # space freed: the same command fetches what is missing
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
    second = archiver.run("backfill", "--since", SINCE, "--source", "site")
    assert second.returncode == 0, second.stderr
    stored = stored_urls(archiver)
    still = sorted(wanted - stored)
    rows = url_rows(db)
    assert not still, (len(still), [(u, rows.get(u)) for u in still[:5]], second.stderr[-1500:])
    for name, size, whole in whole_files(small_disk):
        assert size == whole, f"{name} ends in a torn record"
