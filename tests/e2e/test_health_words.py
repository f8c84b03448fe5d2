"""Health and errors in plain words, as a new user meets them: a daemon whose site does not answer
is unhealthy at once (with the reason and the next try), not "starting" for half an hour; the home
page says why the last cycle failed and when the next try is (in a real Chromium too); ``serve`` on
a missing or empty database says how to fill an archive."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Archiver, stop, wait_for, write_config
from tests.e2e.test_web_browser import browser

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the shared Chromium of the browser tests
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def failed_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archiver, str, str, str]]:
    """A daemon whose site is a port nobody listens on (as with no network), until its first cycle
    failed: (archiver, base URL of its listener, the /healthz answer, the home page)."""
    tmp = tmp_path_factory.mktemp("unreachable")
    dead = f"http://127.0.0.1:{free_port()}/"  # bound, then closed: connections are refused
    port = free_port()
    archiver = Archiver(write_config(tmp, dead, f"sqlite:///{tmp / 'archive.db'}",
                                     web={"listen": f"127.0.0.1:{port}"}), tmp)  # fmt: skip
    process = archiver.start("run")
    base = f"http://127.0.0.1:{port}"
    answers: list[httpx.Response] = []

    def failed() -> bool:
        try:
            answers.append(httpx.get(base + "/healthz", timeout=2))
        except httpx.HTTPError:
            return False
        return answers[-1].status_code == 503

    try:
        assert wait_for(failed, timeout=60), [a.text for a in answers[-3:]] or "no answer"
        home = httpx.get(base + "/", timeout=10).text
        yield archiver, base, answers[-1].text, home
    finally:
        code, _, err = stop(process)
        assert code == 0, err


def test_healthz_is_503_with_the_reason_at_once(failed_daemon: tuple[Archiver, str, str, str]) -> None:
    _, _, health, _ = failed_daemon
    # well inside the 30-minute start grace: the daemon tried, so the grace no longer covers it
    assert health.startswith("unhealthy: the last cycle failed at "), health
    assert "the site did not answer" in health and "robots_unavailable" in health
    assert re.search(r"next try at \d{4}-\d\d-\d\d \d\d:\d\d UTC$", health), health


def test_the_home_page_says_why_and_when_the_next_try_is(failed_daemon: tuple[Archiver, str, str, str]) -> None:
    _, _, _, home = failed_daemon
    notice = home.split('class="failure"', 1)[1].split("</div>", 1)[0]
    assert "The last cycle failed" in notice and "the site did not answer" in notice
    assert re.search(r"tries again at \d{4}-\d\d-\d\d \d\d:\d\d UTC", notice), notice
    assert "The archive holds no article yet" in home and "jinshan backfill" in home


def test_serve_on_a_missing_database_says_how_to_fill_one(tmp_path: Path) -> None:
    archiver = Archiver(write_config(tmp_path, "http://127.0.0.1:9/", f"sqlite:///{tmp_path / 'none.db'}"), tmp_path)
    done = archiver.run("serve", "--listen", "127.0.0.1:0")
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and "no database at" in line, line
    assert "jinshan backfill --since" in line and "make demo" in line
    assert not (tmp_path / "none.db").exists()


def test_serve_on_an_empty_archive_says_so_and_serves(tmp_path: Path) -> None:
    archiver = Archiver(write_config(tmp_path, "http://127.0.0.1:9/", f"sqlite:///{tmp_path / 'a.db'}"), tmp_path)
    assert archiver.run_here("db", "upgrade").returncode == 0
    process = archiver.start("serve", "--listen", "127.0.0.1:0")
    assert process.stderr is not None
    try:
        address, advice = process.stderr.readline(), process.stderr.readline()
        assert "http://127.0.0.1:" in address, address
        assert "holds no article yet" in advice and "jinshan backfill --since" in advice, advice
        base = re.search(r"http://[\d.]+:\d+", address)
        assert base is not None
        assert "The archive holds no article yet" in httpx.get(base.group(0) + "/", timeout=10).text
    finally:
        code, _, err = stop(process)
        assert code in (0, -15), err


def test_the_failure_notice_in_a_browser(browser: Any, failed_daemon: tuple[Archiver, str, str, str]) -> None:
    _, base, _, _ = failed_daemon
    context = browser.new_context(viewport={"width": 1200, "height": 700}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(base + "/")
        notice = page.get_by_role("alert")
        assert notice.is_visible()
        text = notice.inner_text()
        assert "The last cycle failed" in text and "tries again at" in text
        # the notice sits in the crawl health column, within the window, readable without scrolling
        box = notice.bounding_box()
        assert box is not None and box["y"] + box["height"] < 700 and box["width"] > 200
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "home-failure.png"))
    finally:
        context.close()
