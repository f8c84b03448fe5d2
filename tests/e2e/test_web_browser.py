"""The archive view in a real headless Chromium (Debian's ``chromium``, driven by Playwright with the
system browser; nothing is downloaded): what a reader sees, links, replay, keyboard.

Screenshots of each page type are kept under ``tests/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.webarchive import WebArchive

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def web(web_archive: WebArchive) -> WebArchive:
    """The archive shared with the other web view's tests (one xdist group: tests/conftest.py)."""
    return web_archive


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed: apt-get install chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture()
def page(browser: Any, web: WebArchive) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    pg = context.new_page()
    pg.requested = []  # every request the page made, frames included
    pg.on("request", lambda r: pg.requested.append(r.url))
    yield pg
    context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def outside(page: Any, web: WebArchive) -> list[str]:
    return [u for u in page.requested if not u.startswith(web.base) and not u.startswith("data:")]


def test_home_day_channel_person_and_search(page: Any, web: WebArchive) -> None:
    page.goto(web.base + "/")
    assert page.locator("h1").inner_text() == "金山网 archive"
    newest = page.locator("ol.articles a.title").first
    title = newest.inner_text()
    assert title in {r["title"] for r in web.rows}
    shot(page, "home")
    newest.click()
    page.wait_for_url("**/articles/*")
    assert page.locator("h1").inner_text() == title
    credits = page.locator("dl.credits a")
    if credits.count():
        name = credits.first.inner_text()
        credits.first.click()
        page.wait_for_url("**/people/*")
        assert page.locator("h1").inner_text() == name
        assert page.locator("table.years").is_visible()
        shot(page, "person")
    page.goto(web.base + "/days")
    page.locator(".calendar td.has a").first.click()
    page.wait_for_url("**/days/*")
    assert page.locator("ol.articles li a.title").count() >= 1
    shot(page, "day")
    page.goto(web.base + "/channels")
    page.locator("ul.plain a").first.click()
    assert page.locator("ol.articles li a.title").count() >= 1
    shot(page, "channel")
    page.goto(web.base + "/")
    page.fill("#q", "镇江")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    assert page.locator("ol.hits mark").count() >= 1
    assert "镇江" in page.locator("ol.hits mark").first.inner_text()
    shot(page, "search")
    assert not outside(page, web)


def test_article_diff_and_cjk_rendering(page: Any, web: WebArchive) -> None:
    aid = web.article_id(web.edited_url)
    page.goto(f"{web.base}/articles/{aid}")
    truth = web.replica.expected(web.edited_url)
    assert page.locator("h1").inner_text() == truth["title"]
    for name in truth["reporters"]:
        assert page.locator("dl.credits").inner_text().count(name) >= 1
    # a CJK font is installed and used: the title's glyphs are wide, not tofu boxes of one width
    fonts = page.evaluate("document.fonts.check('16px \"Noto Sans CJK SC\"', '镇江')")
    assert fonts
    width = page.evaluate(
        "(() => { const c = document.createElement('canvas').getContext('2d'); c.font = '20px sans-serif';"
        " return [c.measureText('镇').width, c.measureText('江').width, c.measureText('i').width]; })()"
    )
    assert width[0] == width[1] > width[2] * 2
    shot(page, "article")
    page.get_by_role("link", name="Compare versions").click()
    page.wait_for_url("**/diff")
    assert page.locator("table.diff ins").count() >= 1 and page.locator("table.diff del").count() >= 1
    assert page.locator("table.diff tr.changed").count() >= 1
    shot(page, "diff")
    assert not outside(page, web)


def test_replay_shows_the_archived_article_and_stays_inside(page: Any, web: WebArchive) -> None:
    aid = web.article_id(web.edited_url)
    page.goto(f"{web.base}/articles/{aid}/archived?version=2")
    frame_el = page.locator("iframe.replay")
    assert "allow-scripts" not in (frame_el.get_attribute("sandbox") or "x allow-scripts")
    frame = page.frame_locator("iframe.replay")
    truth = web.replica.expected(web.edited_url)
    frame.locator("h1").first.wait_for()
    assert truth["title"] in frame.locator("body").inner_text()
    page.wait_for_load_state("networkidle")
    shot(page, "archived")
    assert not outside(page, web), outside(page, web)
    # a link in the archived page leads to the archive's page of that URL, never the live site
    link = frame.locator("a[href^='/go?url=']").first
    assert link.count() == 1
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.url.startswith(web.base)
    assert not outside(page, web), outside(page, web)


def test_keyboard_reaches_the_search_box_and_links(page: Any, web: WebArchive) -> None:
    page.goto(web.base + "/")
    seen: list[str] = []
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
    assert "q" in seen and "A" in seen
    page.focus("#q")
    page.keyboard.type("镇江")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=*")
    # Tab from the search box onwards reaches a result link
    page.focus("#q")
    for _ in range(20):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.getAttribute('href') || ''")
        if href.startswith("/articles/"):
            break
    else:
        pytest.fail("Tab never reached a result")
    page.keyboard.press("Enter")
    page.wait_for_url("**/articles/*")


def test_bad_input_pages(page: Any, web: WebArchive) -> None:
    page.goto(web.base + "/articles/99999999")
    assert page.locator("h1").inner_text() == "Not found"
    shot(page, "not-found")
    page.goto(web.base + "/api/articles?limit=abc")
    assert "limit" in page.locator("body").inner_text()
    page.goto(web.base + "/search?q=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.locator("script").count() == 0
