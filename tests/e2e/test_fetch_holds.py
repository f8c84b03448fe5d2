"""A backfill tells the truth about holds on the host: a 429 whose Retry-After holds the site for a
day, and a captcha page's 15-minute hold, are named in the summary with their end, and the exit
code is 1 (URLs wait in the frontier), not "all good"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import ReplicaServer

pytestmark = pytest.mark.e2e

ONE_DAY = r"/2026/1005/\d+\.shtml$"
#: the summary prints whole seconds
SLACK = timedelta(seconds=2)


def summary_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("backfill ")]
    assert lines, stderr
    return lines[-1]


def held_until(line: str, host: str) -> datetime:
    found = re.search(re.escape(host) + r" until (\S+) \(", line)
    assert found, line
    return datetime.fromisoformat(found[1])


def test_a_day_long_retry_after_is_named_and_exits_1(tmp_path: Path, server: ReplicaServer) -> None:
    server.fault(pattern=ONE_DAY, kind="status", status=429, retry_after=86400)
    config = write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'archive.db'}")
    before = datetime.now(UTC)
    done = Archiver(config, tmp_path).run("backfill", "--since", "2026-10-01", "--source", "site")
    after = datetime.now(UTC)
    assert done.returncode == 1, done.stderr
    line = summary_line(done.stderr)
    host = server.base_url.split("//", 1)[1].rstrip("/")
    assert "held off:" in line and "429" in line, line
    # the hold began while the backfill ran and lasts a day (retry_after_max_s)
    assert before + timedelta(days=1) - SLACK <= held_until(line, host) <= after + timedelta(days=1) + SLACK


def test_a_captcha_pages_hold_is_named_and_exits_1(tmp_path: Path, server: ReplicaServer) -> None:
    server.fault(pattern=ONE_DAY, kind="captcha")
    config = write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'archive.db'}")
    before = datetime.now(UTC)
    done = Archiver(config, tmp_path).run("backfill", "--since", "2026-10-01", "--source", "site")
    after = datetime.now(UTC)
    assert done.returncode == 1, done.stderr
    line = summary_line(done.stderr)
    host = server.base_url.split("//", 1)[1].rstrip("/")
    assert "held off:" in line and "captcha" in line, line
    # the block page's hold: 15 minutes from the moment it was seen
    assert before + timedelta(minutes=15) - SLACK <= held_until(line, host) <= after + timedelta(minutes=15) + SLACK


def test_a_short_hold_over_before_the_end_is_not_named(tmp_path: Path, server: ReplicaServer) -> None:
    server.fault(pattern=ONE_DAY, kind="status", status=429, retry_after=1, times=1)
    config = write_config(tmp_path, server.base_url, f"sqlite:///{tmp_path / 'archive.db'}")
    done = Archiver(config, tmp_path).run("backfill", "--since", "2026-10-01", "--source", "site")
    assert done.returncode == 0, done.stderr
    assert "held off" not in summary_line(done.stderr)
