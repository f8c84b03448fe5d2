"""``jinshan parse``: extraction of files or URLs without a database.

Files are read from disk; URLs are fetched through the same polite ``Fetcher`` as the crawl (robots,
rate limit, allowed hosts), with the further pages of a split article fetched and joined. The result
of each input is one JSON-ready dict: the article JSON, or ``{"input", "not_article", "rule", "detail"}``, or
``{"input", "error"}`` when the input could not be read or fetched.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from service.crawl.pages import LivePages, Page, complete, page_of, read_article
from service.errors import FetchError, NotAnArticle
from service.model import Article
from service.settings import Settings

_DECLARED_URL = re.compile(
    rb"""<link[^>]+rel=["']?canonical["']?[^>]*href=["']([^"']+)["']|<meta[^>]+property=["']og:url["'][^>]*content=["']([^"']+)["']""",
    re.IGNORECASE,
)


def declared_url(raw: bytes) -> str | None:
    """The page's own idea of its URL (``rel=canonical`` or ``og:url``), when absolute."""
    m = _DECLARED_URL.search(raw[:20000])
    if not m:
        return None
    url = (m.group(1) or m.group(2)).decode("ascii", "ignore").strip()
    return url if url.startswith(("http://", "https://")) else None


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def article_line(article: Article, source: str) -> dict[str, Any]:
    return {"input": source, **article.to_json()}


def read_page_file(path: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes`` (``fetch.max_bytes``, the cap of a
    fetched page). Raises ``OSError`` for anything else: a device (/dev/zero would be read until
    memory runs out), a FIFO (it would wait for a writer), a file past the cap."""
    with open(path, "rb", opener=_open_nonblocking) as fh:  # Path.open has no opener
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"not a regular file: {path}")
        raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise OSError(f"larger than fetch.max_bytes ({max_bytes} bytes): {path}")
    return raw


def _open_nonblocking(path: str, flags: int) -> int:
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; fstat tells then
    return os.open(path, flags | os.O_NONBLOCK)


def parse_file(path: str, settings: Settings, *, url: str | None = None) -> dict[str, Any]:
    """Extract one file (a lone page: its further pages are not looked for). The page URL is
    ``url``, else the page's canonical link, else file://."""
    try:
        raw = read_page_file(path, settings.fetch.max_bytes)
    except OSError as exc:
        return {"input": path, "error": f"cannot read: {exc.strerror or exc}"}
    page = Page(url or declared_url(raw) or Path(path).resolve().as_uri(), raw)
    try:
        return article_line(complete(read_article(page, None, settings.profile, fetched_on=None)), path)
    except NotAnArticle as exc:
        return {"input": path, "not_article": exc.reason, "rule": exc.rule, "detail": exc.detail}


async def _parse_urls(urls: list[str], settings: Settings) -> list[dict[str, Any]]:
    from service.fetch.client import Fetcher

    out: list[dict[str, Any]] = []
    async with Fetcher(settings) as fetcher:
        for url in urls:
            out.append(await _parse_url(fetcher, url, settings))
    return out


async def _parse_url(fetcher: Any, url: str, settings: Settings) -> dict[str, Any]:
    """A page of the site with its further pages, read as the crawl reads it."""
    try:
        response = await fetcher.fetch(url)
        article = await read_article(page_of(response), LivePages(fetcher), settings.profile,
                                     fetched_on=response.fetched_at.date())  # fmt: skip
        return article_line(article, url)
    except NotAnArticle as exc:
        return {"input": url, "not_article": exc.reason, "rule": exc.rule, "detail": exc.detail}
    except FetchError as exc:
        return {"input": url, "error": str(exc)}


def parse_inputs(
    inputs: Iterable[str], settings: Settings, *, url: str | None = None
) -> Iterator[dict[str, Any]]:
    """One result per input, in input order; files are streamed, URLs fetched in one client."""
    items = list(inputs)
    fetched: dict[str, dict[str, Any]] = {}
    urls = [i for i in items if is_url(i)]
    if urls:
        fetched = dict(zip(urls, asyncio.run(_parse_urls(urls, settings)), strict=True))
    for item in items:
        yield fetched[item] if is_url(item) else parse_file(item, settings, url=url)
