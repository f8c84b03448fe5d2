"""``jinshan probe``: a sample of the site's pages of each kind, fetched politely, judged by
``extract.probe``; nothing archived, no database.

From the start pages (or the URLs given): the start pages themselves (lists, or articles when their
URL is an article's), up to ``sample`` channel lists linked from them, up to ``sample`` articles of
each list (its channel), up to ``sample`` e-paper pages (linked, else today's issue and the days
before) and ``sample`` articles of each. Every request goes through the crawl's ``Fetcher`` (allowed
hosts, robots.txt, the per-host rate, retries), with no WARC writer; ``max_pages`` bounds the whole.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlsplit

from service.crawl.discover import ListingLinks, classify, issue_url, start_urls
from service.errors import FetchError
from service.extract.listing import page_links
from service.extract.probe import PageProbe, probe_page
from service.settings import Settings

#: e-paper issues tried back from today when no page of one is linked
EPAPER_DAYS_BACK = 3
#: list pages fetched per page of the sample (a channel's list is one kind of page per channel)
LISTS_PER_SAMPLE = 3


@dataclass
class ProbeRun:
    """The pages probed, in the order they were fetched, and the URLs that could not be fetched."""

    pages: list[PageProbe] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def probe_site(
    settings: Settings,
    urls: list[str],
    *,
    sample: int,
    max_pages: int,
    fetcher: object | None = None,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ProbeRun:
    """Sample and probe the site (see the module docstring). ``fetcher``: an open ``Fetcher`` to use
    (tests); by default one is opened here. ``today``: the day whose e-paper is tried."""
    from service.fetch.client import Fetcher

    if fetcher is not None:
        return await _Probe(settings, fetcher, sample, max_pages, today, progress).run(urls)
    async with Fetcher(settings) as opened:
        return await _Probe(settings, opened, sample, max_pages, today, progress).run(urls)


class _Probe:
    def __init__(
        self,
        settings: Settings,
        fetcher: object,
        sample: int,
        max_pages: int,
        today: date | None,
        progress: Callable[[str], None] | None,
    ) -> None:
        self.settings, self.fetcher, self.sample = settings, fetcher, sample
        self.budget = _Budget(max_pages)
        self.today = today or date.today()
        self.progress = progress or (lambda _: None)
        self.out = ProbeRun()
        self.seen: set[str] = set()
        self.article_re = re.compile(settings.site.article_url_pattern)

    async def run(self, urls: list[str]) -> ProbeRun:
        lists: list[tuple[str, str]] = []  # (list URL, the page it was linked from)
        articles: list[tuple[str, str, str]] = []  # (URL, kind, found on)
        epaper: list[str] = []
        for url in urls or start_urls(self.settings):
            if self.article_re.search(urlsplit(url).path or "/"):
                articles.append((url, "article", ""))
            else:
                lists.append((url, ""))
        # the lists breadth first from the start pages: the start pages, then up to LISTS_PER_SAMPLE
        # × sample lists they lead to (hubs of hubs included), each giving `sample` of its articles
        queue, lists_left = lists, len(lists) + LISTS_PER_SAMPLE * self.sample
        while queue and lists_left > 0:
            (url, found_on), queue = queue[0], queue[1:]
            lists_left -= 1
            if (links := await self._list(url, "list", found_on)) is None:
                continue
            queue += [(h.url, url) for h in links.hubs if h.url not in self.seen]
            articles += [(a.url, "article", url) for a in links.articles[: self.sample]]
            epaper += [p.url for p in links.epaper_pages]
        for url, kind, found_on in articles:
            await self._article(url, kind, found_on)
        await self._epaper(epaper)
        return self.out

    async def _fetch(self, url: str) -> tuple[bytes, str | None, str] | None:
        if url in self.seen or not self.budget.take():
            return None
        self.seen.add(url)
        self.progress(url)
        try:
            response = await self.fetcher.fetch(url)  # type: ignore[attr-defined]
        except FetchError as exc:
            self.out.failed[url] = str(exc)
            return None
        return response.body, response.content_type, response.url

    async def _list(self, url: str, kind: str, found_on: str) -> ListingLinks | None:
        fetched = await self._fetch(url)
        if fetched is None:
            return None
        raw, content_type, final = fetched
        self.out.pages.append(self._probe(raw, final, kind, found_on, content_type))
        return classify(page_links(raw, final, content_type), self.settings)

    async def _article(self, url: str, kind: str, found_on: str) -> None:
        if (fetched := await self._fetch(url)) is not None:
            raw, content_type, final = fetched
            self.out.pages.append(self._probe(raw, final, kind, found_on, content_type))

    async def _epaper(self, linked: list[str]) -> None:
        settings = self.settings
        if not (settings.epaper.enabled and settings.epaper.papers):
            return
        pages = list(dict.fromkeys(linked))[: self.sample]
        if not pages:  # no page linked: today's issue, else the days before
            for back in range(EPAPER_DAYS_BACK + 1):
                url = issue_url(settings, settings.epaper.papers[0], self.today - timedelta(days=back))
                if (links := await self._list(url, "epaper_page", "")) is not None:
                    await self._epaper_articles(url, links)
                    return
            return
        for url in pages:
            if (links := await self._list(url, "epaper_page", "")) is not None:
                await self._epaper_articles(url, links)

    async def _epaper_articles(self, page: str, links: ListingLinks) -> None:
        for link in links.articles[: self.sample]:
            await self._article(link.url, "epaper_article", page)

    def _probe(self, raw: bytes, url: str, kind: str, found_on: str, content_type: str | None) -> PageProbe:
        return probe_page(
            raw, url, self.settings.profile, kind=kind, found_on=found_on, content_type=content_type
        )
