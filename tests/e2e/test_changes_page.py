"""The site's changes as a reader finds them: a backfill, then the replica edits two articles and
takes one down, ``jinshan recheck`` finds them, and the web view's changes page (in a real headless
Chromium) and its Atom feed (read by feedparser, as feed readers do) show them day by day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Archiver, write_config
from tests.e2e.replica import Replica, ReplicaServer
from tests.e2e.test_web_browser import browser
from tests.e2e.webarchive import serve

pytestmark = pytest.mark.e2e
__all__ = ["browser"]  # the shared Chromium of the browser tests
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Changed:
    base: str
    rows: dict[str, dict[str, Any]]
    retitled: str
    extended: str
    deleted: str
    new_title: str

    def id_of(self, url: str) -> int:
        for row in httpx.get(self.base + "/api/articles?limit=200", timeout=10).json()["articles"]:
            if row["url"] == url:
                return int(row["id"])
        raise KeyError(url)


@pytest.fixture(scope="module")
def changed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Changed]:
    tmp = tmp_path_factory.mktemp("changes")
    replica = Replica(seed=21, n_articles=40, days=8, epaper_days=1, epaper_pages=1, old_articles=1)
    with ReplicaServer(replica) as server:
        archiver = Archiver(write_config(tmp, server.base_url, f"sqlite:///{tmp / 'archive.db'}"), tmp)
        assert archiver.run_here("backfill", "--since", "2026-10-01").returncode == 0
        site = [t for t in replica.articles() if "/2026/" in t["url"]]
        channels = {t["url"]: t["channel"] for t in site}
        retitled = site[2]["url"]
        # the other edit and the deletion in another channel: the channel filter has something to keep out
        extended = next(t["url"] for t in site[3:] if t["channel"] != channels[retitled])
        deleted = next(t["url"] for t in site[3:] if t["url"] != extended)
        new_title = "【更正】" + replica.expected(retitled)["title"]
        server.edit(retitled, title=new_title)
        server.edit(extended)
        server.delete(deleted)
        done = archiver.run("recheck", "--since", "2026-10-01")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["changed"] == 2
        rows = {r["url"]: r for r in archiver.export()}
        for base in serve(archiver):
            yield Changed(base, rows, retitled, extended, deleted, new_title)


def test_the_changes_page_shows_edits_with_diffs_and_deletions(changed: Changed, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(changed.base + "/")
        page.get_by_role("link", name="Changes").click()
        page.wait_for_url("**/changes")
        assert page.locator("h1").inner_text() == "Changes"
        days = page.locator("section.day h2")
        assert days.count() == 1  # all three seen today
        edited = page.locator("li.edited a.title")
        assert {edited.nth(i).inner_text() for i in range(edited.count())} == {
            changed.new_title, changed.rows[changed.extended]["title"]
        }
        assert page.locator("li.deleted a.title").inner_text() == changed.rows[changed.deleted]["title"]
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "changes.png"), full_page=True)
        # the diff link of the retitled article shows the old and the new title side by side
        item = page.locator("li.edited", has_text=changed.new_title)
        item.locator("a.diff").click()
        page.wait_for_url("**/diff?from=1&to=2")
        body = page.locator("main").inner_text()
        assert changed.new_title in body and "【更正】" in body
        page.screenshot(path=str(ARTIFACTS / "changes-diff.png"))
        # the kind filter, as a reader uses the form
        page.goto(changed.base + "/changes")
        page.select_option("select[name=kind]", "deleted")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/changes?*kind=deleted*")
        assert page.locator("li.edited").count() == 0 and page.locator("li.deleted").count() == 1
        # the channel filter keeps the changes of one channel only
        channel = changed.rows[changed.extended]["channel"]
        page.goto(changed.base + "/changes")
        page.select_option("select[name=channel]", channel)
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/changes?*channel=*")
        titles = page.locator("ol.changes a.title")
        shown = {titles.nth(i).inner_text() for i in range(titles.count())}
        assert changed.rows[changed.extended]["title"] in shown and changed.new_title not in shown
    finally:
        context.close()


def test_the_changes_feed_reads_in_a_feed_parser(changed: Changed) -> None:
    feedparser = pytest.importorskip("feedparser", reason="feedparser is a dev dependency (pip install feedparser)")
    answer = httpx.get(changed.base + "/feeds/changes.atom", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(answer.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    kinds = {e.title.split(":", 1)[0].split()[-1] for e in feed.entries}
    assert kinds == {"edited", "deleted"} and len(feed.entries) == 3
    retitled = next(e for e in feed.entries if changed.new_title in e.title)
    assert retitled.link.endswith(f"/articles/{changed.id_of(changed.retitled)}/diff?from=1&to=2")
    assert httpx.get(retitled.link, timeout=10).status_code == 200
    assert retitled.updated_parsed is not None
    only = feedparser.parse(httpx.get(changed.base + "/feeds/changes.atom?kind=deleted", timeout=10).content)
    assert [e.title for e in only.entries] == [f"删除 deleted: {changed.rows[changed.deleted]['title']}"]
    assert httpx.get(changed.base + "/feeds/changes.atom?kind=nope", timeout=10).status_code == 400


def test_the_api_gives_each_version_its_times(changed: Changed) -> None:
    aid = changed.id_of(changed.extended)
    found = httpx.get(f"{changed.base}/api/articles/{aid}/versions", timeout=10).json()
    versions = found["versions"] if isinstance(found, dict) else found
    assert [v["version"] for v in versions] == [1, 2]
    for v in versions:
        assert v["first_seen_at"] and v["last_seen_at"] and v["fetched_at"]
    assert versions[0]["first_seen_at"] < versions[1]["first_seen_at"]
