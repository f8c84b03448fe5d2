"""The Fetcher's resource mode: images, stylesheets and fonts of archived pages, from the site's
hosts and the profile's resource hosts (a CDN, never for pages), within the type allow-list and
``max_resource_bytes``; the same payload under another URL archived as a revisit record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from service.errors import PermanentFetchError
from service.fetch import Fetcher, WarcArchive, read_response
from service.fetch.client import type_allowed
from tests.support.faultserver import fast_settings

SITE = "https://www.jsw.com.cn"
CDN = "https://img.jswcdn.com"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def router() -> respx.Router:
    r = respx.Router(assert_all_called=False)
    for origin in (SITE, CDN):
        r.get(origin + "/robots.txt").respond(404)
    r.get(SITE + "/uploads/a.png").respond(200, content=PNG, headers={"Content-Type": "image/png"})
    r.get(CDN + "/uploads/a.png").respond(200, content=PNG, headers={"Content-Type": "image/png"})
    r.get(CDN + "/page.shtml").respond(200, content=b"<html></html>", headers={"Content-Type": "text/html"})
    r.get(SITE + "/js/a.exe").respond(200, content=b"MZ", headers={"Content-Type": "application/x-msdownload"})
    r.get(SITE + "/big.png").respond(200, content=b"x" * 5000, headers={"Content-Type": "image/png"})
    return r


def settings(**fetch: Any) -> Any:
    base = fast_settings(**fetch)
    profile = base.profile.model_copy(update={"resource_hosts": ("img.jswcdn.com",)})
    return base.model_copy(update={"profile": profile})


async def fetch(url: str, archive: WarcArchive | None = None, **kw: Any) -> Any:
    transport = httpx.MockTransport(router().async_handler)
    async with Fetcher(settings(max_resource_bytes=2048), archive=archive, transport=transport) as f:
        return await f.fetch(url, **kw)


def test_a_resource_host_serves_resources_but_never_pages() -> None:
    got = asyncio.run(fetch(CDN + "/uploads/a.png", resource=True))
    assert got.body == PNG and got.content_type == "image/png"
    with pytest.raises(PermanentFetchError) as page:
        asyncio.run(fetch(CDN + "/page.shtml"))
    assert page.value.reason == "refused_host"
    # a page fetch refuses an image; a resource fetch refuses what is not on the allow-list
    with pytest.raises(PermanentFetchError) as image:
        asyncio.run(fetch(SITE + "/uploads/a.png"))
    assert image.value.reason == "not_html"
    with pytest.raises(PermanentFetchError) as exe:
        asyncio.run(fetch(SITE + "/js/a.exe", resource=True))
    assert exe.value.reason == "refused_type"


def test_a_resource_over_max_resource_bytes_is_refused() -> None:
    with pytest.raises(PermanentFetchError) as big:
        asyncio.run(fetch(SITE + "/big.png", resource=True))
    assert big.value.reason == "too_large"


def test_the_same_payload_under_another_url_is_a_revisit_record(tmp_path: Path) -> None:
    archive = WarcArchive(tmp_path)
    first = asyncio.run(fetch(SITE + "/uploads/a.png", archive, resource=True))
    when = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    asked: list[str] = []

    async def known(digest: str) -> tuple[str, datetime] | None:
        asked.append(digest)
        return (SITE + "/uploads/a.png", when) if digest == first.payload_digest else None

    second = asyncio.run(fetch(CDN + "/uploads/a.png", archive, resource=True, known_payload=known))
    archive.close()
    assert asked == [first.payload_digest] and second.warc is not None and second.warc.revisit
    record = read_response(tmp_path / second.warc.filename, second.warc.offset)
    assert record.record_type == "revisit" and record.body == b""
    assert record.refers_to_uri == SITE + "/uploads/a.png" and record.refers_to_date == "2026-03-01T08:00:00Z"
    assert read_response(tmp_path / first.warc.filename, first.warc.offset).body == PNG


def test_type_allow_list_takes_families() -> None:
    allowed = frozenset({"image/*", "text/css"})
    assert type_allowed("image/webp", allowed) and type_allowed("text/css", allowed)
    assert type_allowed("", allowed)  # no type said: kept as sent
    assert not type_allowed("text/html", allowed) and not type_allowed("application/x-msdownload", allowed)
