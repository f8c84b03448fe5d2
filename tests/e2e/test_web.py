"""``jinshan serve`` on an archive the replica filled, over HTTP: pages, API, feeds, replay, bad input,
and ``jinshan export --format wacz`` validated by ``wacz validate`` and replayed by pywb."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from tests.e2e.webarchive import EDITED_PARAGRAPHS, WebArchive

pytestmark = pytest.mark.e2e
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(scope="session")
def web(web_archive: WebArchive) -> WebArchive:
    """The archive shared with the other web view's tests (one xdist group: tests/conftest.py)."""
    return web_archive


def test_pages_show_the_archive(web: WebArchive) -> None:
    home = web.get("/")
    assert home.status_code == 200 and "Newest articles" in home.text
    newest = max((r for r in web.rows if r["published_at"]), key=lambda r: r["published_at"])
    assert newest["title"] in home.text
    some = web.rows[0]
    day = some["published_at"][:10]
    assert some["title"] in web.get(f"/days/{day}").text
    assert f"/days/{day}" in web.get(f"/days?year={day[:4]}").text
    assert some["channel"] in web.get("/channels").text
    assert (
        some["title"] in web.get(f"/channels/{some['channel']}").text
        or web.get(f"/channels/{some['channel']}?limit=200").status_code == 200
    )
    reporter = next(r for r in web.rows if r["reporters"])
    page = web.get("/people?q=" + reporter["reporters"][0])
    assert reporter["reporters"][0] in page.text


def test_article_page_credits_versions_and_diff(web: WebArchive) -> None:
    aid = web.article_id(web.edited_url)
    page = web.get(f"/articles/{aid}")
    truth = web.replica.expected(web.edited_url)
    assert truth["title"] in page.text and "version 2 of 2" in page.text
    for name in truth["reporters"]:
        assert name in page.text
    assert "fields-from" not in page.text and "fields-from" in web.get(f"/articles/{aid}?fields_from=1").text
    diff = web.get(f"/articles/{aid}/diff?from=1&to=2")
    assert diff.status_code == 200 and "<ins>" in diff.text and "<del>" in diff.text
    assert EDITED_PARAGRAPHS[0] in re.sub(r"<[^>]+>", "", diff.text)
    versions = web.get(f"/api/articles/{aid}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["body_text"] == truth["body_text"]


def test_api_pages_by_cursor_through_every_article(web: WebArchive) -> None:
    rows = web.all_api_rows()
    assert len(rows) == len({r["id"] for r in rows}) == len(web.rows)
    by_url = {r["url"]: r for r in web.rows}
    for row in rows:
        exported = by_url[row["url"]]
        assert {k: row[k] for k in exported} == exported  # the article JSON of export, plus the id
    small = [web.get("/api/articles?limit=7&include_duplicates=true").json()]
    while small[-1]["next"]:
        small.append(httpx.get(small[-1]["next"], timeout=10).json())
    assert [r["id"] for p in small for r in p["articles"]] == [r["id"] for r in rows]
    assert {p["total"] for p in small} == {len(rows)}
    # by default copies are folded under their original, as on the pages
    originals = web.get("/api/articles?limit=200").json()
    assert originals["total"] == len(originals["articles"]) == sum(1 for r in rows if not r["duplicate_of"])
    one = web.get(f"/api/articles/{rows[0]['id']}").json()
    assert one["title"] == rows[0]["title"]


def test_feeds_are_atom(web: WebArchive) -> None:
    feed = ET.fromstring(web.get("/feeds/articles.atom").content)
    entries = feed.findall(f"{ATOM}entry")
    assert entries and all(e.find(f"{ATOM}title") is not None for e in entries)
    channel = web.rows[0]["channel"]
    per_channel = ET.fromstring(web.get(f"/feeds/channels/{channel}.atom").content)
    assert per_channel.findall(f"{ATOM}entry")


def test_replay_is_sandboxed_rewritten_and_scriptless(web: WebArchive) -> None:
    aid = web.article_id(web.edited_url)
    frame = web.get(f"/articles/{aid}/archived")
    assert 'sandbox="allow-top-navigation-by-user-activation"' in frame.text
    src = frame.text.split('src="/replay/', 1)[1].split('"', 1)[0]
    replay = web.get(f"/replay/{src}")
    assert replay.headers["content-security-policy"] == (
        "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    )
    assert "<script" not in replay.text.lower()
    assert "127.0.0.1:" + web.server.base_url.rsplit(":", 1)[1] not in replay.text.replace("url=http", "")
    assert web.replica.expected(web.edited_url)["title"] in replay.text
    link = web.get("/go", params={"url": web.rows[0]["url"]}, follow_redirects=False)
    assert link.status_code == 302 and link.headers["location"].endswith("/archived")
    assert web.get("/replay/url", params={"url": "https://www.jsw.com.cn/nothing.jpg"}).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/articles/999999", "/articles/abc", "/people/424242", "/replay/999999", "/api/articles/999999",
     "/api/articles/999999/versions", "/nowhere", "/feeds/people/999999.atom"],
)  # fmt: skip
def test_unknown_ids_are_404_pages(web: WebArchive, path: str) -> None:
    got = web.get(path)
    assert got.status_code == 404
    assert ("Not found" in got.text) if not path.startswith("/api/") else got.json()["status"] == 404


@pytest.mark.parametrize(
    ("path", "says"),
    [("/api/articles?limit=abc", "limit"), ("/api/articles?cursor=zzz", "cursor"),
     ("/api/articles?since=2026-13-45", "since"), ("/days/20261301", "YYYY-MM-DD"),
     ("/search?q=x&page=-1", "page"), ("/search?q=x&since=yesterday", "since"),
     ("/people/1?role=boss", "role"), ("/api/articles?limit=0", "limit")],
)  # fmt: skip
def test_malformed_parameters_are_400_with_a_message(web: WebArchive, path: str, says: str) -> None:
    got = web.get(path)
    assert got.status_code == 400 and says in got.text


def test_huge_limits_and_pages_are_capped(web: WebArchive) -> None:
    api = web.get("/api/articles?limit=100000000000").json()
    assert api["limit"] == 200
    assert web.get("/search?q=镇江&page=99999999999").status_code == 200
    assert web.get("/days/2026-10-05?limit=99999999").status_code == 200


@pytest.mark.parametrize(
    "q",
    [
        "' OR 1=1 --",
        '"; DROP TABLE articles; --',
        "<script>alert(1)</script>",
        "%_\\",
        "镇江 <b>x</b>",
        "NEAR(a b)",
    ],
)
def test_search_with_metacharacters_is_harmless(web: WebArchive, q: str) -> None:
    got = web.get("/search", params={"q": q})
    assert got.status_code == 200
    assert "<script>alert(1)</script>" not in got.text and "<b>x</b>" not in got.text
    assert web.get("/api/articles?limit=1").status_code == 200  # the table is still there


def test_read_only_and_no_writes(web: WebArchive) -> None:
    assert httpx.post(web.base + "/api/articles", timeout=5).status_code == 405


# --- WACZ ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wacz_file(web: WebArchive) -> Path:
    out = web.archiver.tmp / "archive.wacz"
    done = web.archiver.run("export", "--format", "wacz", "--since", "2010-01-01", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "pages written" in done.stderr
    return out


def test_wacz_validates(wacz_file: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(wacz_file)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    import zipfile

    names = set(zipfile.ZipFile(wacz_file).namelist())
    assert {"datapackage.json", "pages/pages.jsonl"} <= names
    assert any(n.startswith("indexes/") for n in names) and any(n.startswith("archive/") for n in names)


def _pywb_bin() -> Path | None:
    for candidate in (
        os.environ.get("JINSHAN_PYWB_BIN"),
        Path(__file__).resolve().parents[2] / ".venv-pywb" / "bin",
    ):
        if candidate and (Path(candidate) / "wayback").exists():
            return Path(candidate)
    found = shutil.which("wayback")
    return Path(found).parent if found else None


def test_pywb_replays_an_article_from_the_wacz(web: WebArchive, wacz_file: Path, tmp_path: Path) -> None:
    bin_dir = _pywb_bin()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("pywb is not installed (.ci/run makes .venv-pywb)")
        pytest.skip("pywb is not installed: make .venv-pywb")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(
        [str(bin_dir / "wb-manager"), "init", "jinshan"], cwd=tmp_path, check=True, env=env, timeout=120
    )
    subprocess.run([str(bin_dir / "wb-manager"), "add", "--unpack-wacz", "jinshan", str(wacz_file)], cwd=tmp_path, check=True,
                   env=env, timeout=300)  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=tmp_path,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        truth = web.replica.expected(web.rows[0]["url"])
        url = f"http://127.0.0.1:{port}/jinshan/2030id_/{web.rows[0]['url']}"
        deadline, got = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            try:
                got = httpx.get(url, timeout=10, follow_redirects=True)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        assert got is not None and got.status_code == 200, got.text[:500] if got else "pywb never answered"
        assert (
            truth["title"] in got.content.decode(got.encoding or "utf-8", "replace")
            or truth["title"] in got.text
        )
    finally:
        process.terminate()
        process.wait(timeout=15)
