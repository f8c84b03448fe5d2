"""The one routine that reads an article whole: extract its first page, fetch the further pages of
a split article (``<id>_2.shtml`` …) from a page source, extract each, join them.

The crawl, ``jinshan parse URL`` and ``jinshan reparse`` all read articles through ``read_article``,
so they cap the pages alike (``MAX_PAGES``) and date them alike (``fetched_on``: the day the first
page was fetched, which dates a page that prints no year). Only the source differs: the live site
through the polite fetcher, or the WARC archive.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol, TypeVar, cast

from service.crawl.bounded import EXTRACT_TIMEOUT_S, check_nesting, run_bounded
from service.extract import extract_article, join_parts
from service.model import Article
from service.settings import SiteProfile

T = TypeVar("T")

#: pages of one split article read at most (a pager loop must not run away)
MAX_PAGES = 20


@dataclass(frozen=True, slots=True)
class Page:
    """One page as extraction needs it: where it came from, its bytes, its declared type."""

    url: str
    body: bytes
    content_type: str | None = None


class PageSource(Protocol):
    """Where the further pages of an article come from. ``page`` raises what its source raises for
    a page it cannot give (``FetchError`` from the site, ``ArchiveError`` from the archive)."""

    async def page(self, url: str) -> Page: ...


async def read_article(
    first: Page,
    more: PageSource | None,
    profile: SiteProfile,
    *,
    fetched_on: date | None,
    bounded: bool = False,
) -> Article:
    """The article whose first page is ``first``, its further pages read from ``more`` (None: a
    lone page, such as a file given to ``parse``) and joined. ``bounded``: each page is extracted in
    a thread with a time limit (``crawl.bounded``), as the long-running crawl must; a one-shot
    command extracts inline. Raises ``NotAnArticle``, and whatever ``more`` raises."""
    article = await _extract(first, profile, fetched_on, bounded)
    if more is None:
        return article
    parts = [
        await _extract(await more.page(url), profile, fetched_on, bounded)
        for url in article.next_pages[:MAX_PAGES]
    ]
    return join_parts(article, parts)


async def _extract(page: Page, profile: SiteProfile, fetched_on: date | None, bounded: bool) -> Article:
    def work() -> Article:
        check_nesting(page.body, url=page.url)
        return extract_article(
            page.body, page.url, profile=profile, content_type=page.content_type, fetched_on=fetched_on
        )

    return await run_bounded(work, timeout=EXTRACT_TIMEOUT_S, what=page.url) if bounded else work()


class LivePages:
    """Further pages from the site, through the (polite) fetcher; ``on_fetch`` sees each response
    first (the crawl records it under the article's frontier URL, so ``reparse`` finds it)."""

    def __init__(self, fetcher: Any, on_fetch: Callable[[Any], Awaitable[None]] | None = None) -> None:
        self.fetcher, self.on_fetch = fetcher, on_fetch

    async def page(self, url: str) -> Page:
        response = await self.fetcher.fetch(url)
        if self.on_fetch is not None:
            await self.on_fetch(response)
        return page_of(response)


def page_of(response: Any) -> Page:
    """The ``Page`` of a fetched response (``fetch.client.Response`` or alike)."""
    return Page(response.url, response.body, response.content_type)


def complete(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work`` to its end without an event loop: for a source that answers at once (the
    archive), so ``reparse``'s worker processes need no loop. Raises ``RuntimeError`` if it waits."""
    try:
        work.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    work.close()
    raise RuntimeError("the page source waited for I/O: complete() takes sources that answer at once")
