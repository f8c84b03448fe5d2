"""``make demo`` (tests/e2e/replica/demo.py), bounded: a small replica backfilled into a throwaway
archive and served; the web view answers with the replica's articles; Ctrl-C (SIGINT) stops every
process and removes the folder; a ``kill -9`` of the demo leaves no server behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen([sys.executable, "-m", "tests.e2e.replica.demo", "--articles", "30", "--days", "4", *args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip


def read_until_served(process: subprocess.Popen[str]) -> tuple[list[str], str]:
    """The demo's lines up to its address (bounded: a demo that never serves fails the test)."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if found := re.search(r"the archive is on (http://127\.0\.0\.1:\d+/)", line):
            return lines, found.group(1)
    process.kill()
    raise AssertionError(f"the demo printed no address: {lines}")


@pytest.fixture()
def running() -> Iterator[tuple[subprocess.Popen[str], list[str], str]]:
    process = demo()
    try:
        lines, address = read_until_served(process)
        yield process, lines, address
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def answers(address: str) -> bool:
    try:
        httpx.get(address, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def test_the_demo_serves_a_filled_archive_and_ctrl_c_stops_everything(
    running: tuple[subprocess.Popen[str], list[str], str],
) -> None:
    process, lines, address = running
    folder = Path(next(re.search(r"into (\S+)", s).group(1) for s in lines if "backfilling it into" in s))  # type: ignore[union-attr]
    assert (folder / "archive.db").is_file() and any((folder / "warc").iterdir())
    config = (folder / "demo.toml").read_text(encoding="utf-8")
    assert "requests_per_second = 50.0" in config and 'allowed_hosts = ["127.0.0.1"]' in config
    api = httpx.get(address + "api/articles?limit=200", timeout=10).json()
    assert len(api["articles"]) >= 30  # the current articles, e-paper and old pages besides
    assert all(a["url"].startswith("http://127.0.0.1:") for a in api["articles"])
    home = httpx.get(address, timeout=10).text
    assert api["articles"][0]["title"] in home
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert wait_for(lambda: not answers(address), timeout=15), "jinshan serve outlived the demo"
    assert not folder.exists()


def test_a_killed_demo_leaves_no_server(running: tuple[subprocess.Popen[str], list[str], str]) -> None:
    process, lines, address = running
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert wait_for(lambda: not answers(address), timeout=15), "jinshan serve outlived the demo"
    for line in lines:  # a killed demo cannot remove its folder
        if found := re.search(r"backfilling it into (\S+)", line):
            shutil.rmtree(found.group(1), ignore_errors=True)
