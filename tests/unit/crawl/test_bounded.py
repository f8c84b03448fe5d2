"""Extraction bounds: pathological nesting refused before parsing, a time limit off the event loop."""

from __future__ import annotations

import asyncio
import threading

import pytest

from service.crawl.bounded import check_nesting, nesting_depth, run_bounded
from service.errors import NotAnArticle

POISON = b"<html><head><title>t</title></head><body>" + b"<div>\xe9\x87\x91\n" * 300_000


def test_depth_of_ordinary_markup() -> None:
    html = b"<html><body><div class='a'><p>one<p>two<br/><img src=x><ul><li>a<li>b</ul></div></body></html>"
    assert nesting_depth(html) == 4  # html > body > div > ul; p, li, br and img do not nest


def test_the_poison_page_is_refused_before_parsing() -> None:
    with pytest.raises(NotAnArticle) as caught:
        check_nesting(POISON, url="http://x/1.shtml")
    assert caught.value.reason == "malformed" and "300002 deep" in caught.value.detail


def test_many_closed_tags_pass() -> None:
    check_nesting(b"<html><body>" + b"<div><span>x</span></div>" * 20_000 + b"</body></html>")


def test_a_runaway_extraction_is_abandoned_after_its_time_limit() -> None:
    release = threading.Event()

    async def main() -> None:
        with pytest.raises(NotAnArticle) as caught:
            await run_bounded(release.wait, timeout=0.05, what="http://x/2.shtml")
        assert caught.value.reason == "malformed"
        release.set()
        assert await run_bounded(lambda: 42, timeout=30, what="ok") == 42
        with pytest.raises(ZeroDivisionError):
            await run_bounded(lambda: 1 // 0, timeout=30, what="boom")

    asyncio.run(main())
