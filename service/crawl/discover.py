"""Discovery: list pages and e-paper issues → article URLs in the frontier.

List pages are walked here, inline, not through the frontier: the frontier holds the pages we
archive (articles); list pages are re-read on every poll and only their conditional-request
validators are remembered. The paging rule is the only difference between the daemon and the
backfill (``SteadyPaging`` stops at the first page with nothing new, ``BackfillPaging`` at the first
page whose articles are all older than ``--since``). "New" means new to the archive as it stood when
the walk (the daemon: the cycle) began: a link found minutes earlier in the same cycle (a pinned
headline of the home page that also sits on page 3 of a channel) does not end the paging.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from service.errors import FetchError
from service.extract.listing import page_links
from service.extract.profile import choose_template, site_id
from service.extract.resources import epaper_scans
from service.model import Link
from service.settings import Settings, SiteProfile
from service.site.urls import UrlShapes, date_from_path, is_allowed, list_page_number, shapes_of
from service.store import AsyncStore, Discoveries, NewUrl

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListingLinks:
    """The links of one list page, sorted by what discovery does with them."""

    articles: tuple[Link, ...] = ()
    hubs: tuple[Link, ...] = ()
    next_pages: tuple[Link, ...] = ()
    epaper_pages: tuple[Link, ...] = ()


def classify(links: Iterable[Link], settings: Settings) -> ListingLinks:
    """Sort links by URL pattern within the fetchable hosts; a hub link whose text says "next page"
    (or whose path is the index_N of the same list) is pagination; the root of another host is not
    a hub."""
    hosts = settings.fetchable_hosts
    site_host = _host(settings.site.base_url, settings)
    article_re = re.compile(settings.site.article_url_pattern)
    hub_re = re.compile(settings.site.hub_url_pattern)
    page_re = re.compile(settings.epaper.page_url_pattern)
    shapes = shapes_of(settings.profile)
    articles: list[Link] = []
    hubs: list[Link] = []
    nexts: list[Link] = []
    pages: list[Link] = []
    for link in links:
        if not is_allowed(link.url, hosts):
            continue
        path = urlsplit(link.url).path or "/"
        if article_re.search(path):
            articles.append(Link(link.url, link.text, "article"))
        elif page_re.search(path):
            pages.append(Link(link.url, link.text, "epaper_page"))
        elif link.kind == "next_page" or list_page_number(path, shapes) is not None:
            nexts.append(Link(link.url, link.text, "next_page"))
        elif hub_re.search(path) and (path != "/" or _host(link.url, settings) == site_host):
            # the home page of another allowed host (the e-paper, the old news host) is no channel
            # list of this site
            hubs.append(Link(link.url, link.text, "hub"))
    return ListingLinks(tuple(articles), tuple(hubs), tuple(nexts), tuple(pages))


def _host(url: str, settings: Settings) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return settings.site.host_aliases.get(host, host)


def page_index(url: str, shapes: UrlShapes) -> int:
    """N for the N-th page of a list (``shapes.list_page``), 1 for its first page (and any other URL)."""
    return list_page_number(url, shapes) or 1


def next_list_page(current: str, nexts: Iterable[Link], shapes: UrlShapes) -> str | None:
    """The next page of the list at ``current``: the link with the next index, else the first
    "下一页" link that goes forward."""
    here = page_index(current, shapes)
    candidates = [link for link in nexts if page_index(link.url, shapes) > here]
    if not candidates:
        return None
    return min(candidates, key=lambda link: page_index(link.url, shapes)).url


def article_urls(
    links: ListingLinks, shapes: UrlShapes, *, found_on: str, due_at: datetime, kind: str = "article"
) -> list[NewUrl]:
    return [
        NewUrl(
            url=link.url,
            kind=kind,
            found_on=found_on,
            due_at=due_at,
            published_on=date_from_path(link.url, shapes),
        )
        for link in links.articles
    ]


# --- paging rules --------------------------------------------------------------------------------


class Paging(Protocol):
    def follow(
        self, *, page_number: int, articles: int, new: int, dates: list[date], oldest_new: bool
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class SteadyPaging:
    """The daemon: page on while a page brings articles the archive did not hold, up to
    ``max_pages``. Lists run newest first, so a page whose oldest link is known and whose known links
    outnumber its new ones ends the walk: the next page holds no news. A few known links on a page
    (a pinned headline, a "popular" box, related links) do not: they say nothing about the pages
    below. On an empty archive every link is new, and the walk reads ``max_pages``."""

    max_pages: int

    def follow(
        self, *, page_number: int, articles: int, new: int, dates: list[date], oldest_new: bool
    ) -> bool:
        if page_number >= self.max_pages or new == 0:
            return False
        return oldest_new or new >= articles - new


@dataclass(frozen=True, slots=True)
class BackfillPaging:
    """The backfill: go on while the page still has articles on or after ``since`` (dates from the
    article URLs; a page without dated URLs is followed while it brings new articles)."""

    since: date
    max_pages: int = 100_000

    def follow(
        self, *, page_number: int, articles: int, new: int, dates: list[date], oldest_new: bool
    ) -> bool:
        if page_number >= self.max_pages or articles == 0:
            return False
        if dates:
            return max(dates) >= self.since
        return new > 0


# --- walking lists ---------------------------------------------------------------------------------


class Fetching(Protocol):
    async def fetch(self, url: str, *, etag: str | None = ..., last_modified: str | None = ...,
                    previous_digest: str | None = ...) -> object: ...  # fmt: skip


class Frontier(Protocol):
    """Where discovery puts URLs; awaited, so a database behind it never blocks the event loop."""

    async def add_urls(self, urls: Iterable[NewUrl]) -> int: ...

    async def known_before(self, urls: Iterable[str], at: datetime) -> set[str]: ...


@dataclass
class ListWalk:
    """What one walk over a list found."""

    pages: int = 0
    not_modified: int = 0
    articles: int = 0
    new: int = 0
    failed: int = 0
    hubs: list[str] = field(default_factory=list)
    error: str | None = None
    #: every article link of the first page was unseen: the list may have moved past what we saw
    saturated: bool = False
    #: article links new to the archive as it stood when the walk began (what paging decides on)
    unseen: int = 0


@dataclass
class WalkState:
    """Where a long walk over lists stands (the backfill's): for every list known, by its first
    page, the next page to read, or None once it was walked to its end; and what was read so far.
    Saved as JSON while the walk goes on, so an interrupted walk goes on where it stopped."""

    at: dict[str, str | None] = field(default_factory=dict)
    pages: int = 0
    found: int = 0
    #: the oldest publication date seen on a list page so far (how far back the walk reached)
    reached: date | None = None

    def page_read(self, start: str, next_url: str | None, new: int, dates: list[date]) -> None:
        self.at[start] = next_url
        self.pages += 1
        self.found += new
        if dates:
            self.reached = min([*dates, *([self.reached] if self.reached else [])])

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "pages": self.pages, "found": self.found,
                "reached": self.reached.isoformat() if self.reached else None}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WalkState:
        reached = data.get("reached")
        return cls(at=dict(data.get("at") or {}), pages=int(data.get("pages") or 0),
                   found=int(data.get("found") or 0), reached=date.fromisoformat(reached) if reached else None)  # fmt: skip


@dataclass
class Validators:
    """ETag / Last-Modified of list pages, so an unchanged list costs a 304 and no body."""

    by_url: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)


async def walk_list(
    start: str,
    *,
    settings: Settings,
    fetcher: Fetching,
    frontier: Frontier,
    paging: Paging,
    validators: Validators | None = None,
    now: datetime | None = None,
    began: datetime | None = None,
    state: WalkState | None = None,
) -> ListWalk:
    """Fetch ``start`` (or the page ``state`` says to go on from) and its following pages while
    ``paging`` says so; put article links in the frontier (due now). ``paging`` judges a page by the
    links the archive did not hold at ``began`` (default: now, the start of this walk). A failed page
    ends the walk (it is counted; the next poll tries again)."""
    walk = ListWalk()
    url: str | None = state.at.get(start, start) if state is not None else start
    due = now or datetime.now(UTC)
    began = began or due
    shapes = shapes_of(settings.profile)
    while url is not None:
        etag, modified = validators.by_url.get(url, (None, None)) if validators else (None, None)
        try:
            response = await fetcher.fetch(url, etag=etag, last_modified=modified)
        except FetchError as exc:
            log.log(
                logging.INFO if exc.reason == "robots_disallowed" else logging.WARNING,
                "list page failed: %s",
                exc,
            )
            walk.failed += 1
            walk.error = str(exc)
            return walk
        walk.pages += 1
        if getattr(response, "not_modified", False):
            walk.not_modified += 1
            return walk
        if validators is not None:
            validators.by_url[url] = (response.etag, response.last_modified)  # type: ignore[attr-defined]
        links = classify(page_links(response.body, response.url, response.content_type), settings)  # type: ignore[attr-defined]
        found = article_urls(links, shapes, found_on=url, due_at=due)
        known = await frontier.known_before([f.url for f in found], began) if found else set()
        unseen = [f.url not in known for f in found]
        added = await frontier.add_urls(found) if found else 0
        walk.new += added
        if walk.pages == 1:
            walk.saturated = bool(found) and all(unseen)
        walk.articles += len(found)
        walk.unseen += sum(unseen)
        walk.hubs.extend(h.url for h in links.hubs)
        dates = [d for link in links.articles if (d := date_from_path(link.url, shapes))]
        more = paging.follow(page_number=page_index(url, shapes), articles=len(found), new=sum(unseen), dates=dates,
                             oldest_new=bool(unseen) and unseen[-1])  # fmt: skip
        url = next_list_page(url, links.next_pages, shapes) if more else None
        if state is not None:
            state.page_read(start, url, added, dates)
    return walk


@dataclass
class ListsWalk:
    """What a walk over the start lists (and the channel lists they link) found."""

    pages: int = 0
    new: int = 0
    failed: int = 0
    answered: bool = False
    saturated: bool = False
    errors: list[str] = field(default_factory=list)
    #: channel lists linked from the start pages (whether or not they were walked)
    hubs: list[str] = field(default_factory=list)


async def walk_lists(
    starts: list[str],
    *,
    settings: Settings,
    fetcher: Fetching,
    frontier: Frontier,
    paging: Paging,
    validators: Validators | None = None,
    follow_hubs: bool = True,
    began: datetime | None = None,
    state: WalkState | None = None,
) -> ListsWalk:
    """Walk every start list, then (``follow_hubs``) every channel list linked from a start page,
    each with ``paging``, judged against the archive as it stood at ``began`` (default: now). Lists
    found deeper are not followed: the start pages define the site's map.

    With ``state`` (see ``WalkState``) the walk records its progress there, and lists it already
    walked to their end are skipped, the others taken up where they stopped."""
    total = ListsWalk()
    began = began or datetime.now(UTC)
    queue = list(dict.fromkeys(starts))
    first_level = set(queue)
    if state is not None and follow_hubs:
        queue += [u for u in state.at if u not in first_level]
    seen = set(queue)
    while queue:
        url = queue.pop(0)
        if state is not None and url in state.at and state.at[url] is None:
            continue  # walked to its end before an interruption
        walk = await walk_list(url, settings=settings, fetcher=fetcher, frontier=frontier, paging=paging,
                               validators=validators, began=began, state=state)  # fmt: skip
        total.pages += walk.pages
        total.new += walk.new
        total.failed += walk.failed
        total.answered = total.answered or walk.pages > 0
        if walk.error and url in first_level:
            total.errors.append(walk.error)
        if url in first_level:
            total.saturated = total.saturated or walk.saturated
            for hub in walk.hubs:
                if hub not in seen:
                    seen.add(hub)
                    total.hubs.append(hub)
                    if follow_hubs:
                        queue.append(hub)
                        if state is not None:
                            state.at.setdefault(hub, hub)
    return total


def start_urls(settings: Settings) -> list[str]:
    """The configured start URLs, absolute (relative ones are resolved against ``site.base_url``)."""
    return [urljoin(settings.site.base_url, u) for u in settings.site.start_urls]


def next_poll_minutes(current: float, new: int, *, least: float, most: float, target: int) -> float:
    """The next discovery interval, in proportion to how far the last poll was from ``target`` new
    articles (at most ×1.5 or ×2/3 a step), within [``least``, ``most``] minutes: list pages then cost
    about one request per ``target`` new articles whatever the site's pace."""
    factor = 1.5 if new == 0 else min(1.5, max(2 / 3, target / new))
    return min(most, max(least, current * factor))


# --- the e-paper -----------------------------------------------------------------------------------


def issue_url(settings: Settings, paper: str, day: date) -> str:
    """The first page ("layout") of one paper's issue of ``day``."""
    path = settings.epaper.layout_path.format(paper=paper, yyyy=f"{day:%Y}", mm=f"{day:%m}", dd=f"{day:%d}")
    return urljoin(settings.epaper.base_url, path)


@dataclass
class IssueWalk:
    pages: int = 0
    articles: int = 0
    new: int = 0
    failed: int = 0
    missing: bool = False


async def walk_issue(
    settings: Settings,
    paper: str,
    day: date,
    *,
    fetcher: Fetching,
    frontier: Frontier,
    now: datetime | None = None,
) -> IssueWalk:
    """Page 1 of the issue, then every page it lists, then their article links → frontier."""
    walk = IssueWalk()
    due = now or datetime.now(UTC)
    shapes = shapes_of(settings.profile)
    todo = [issue_url(settings, paper, day)]
    seen = set(todo)
    while todo:
        url = todo.pop(0)
        try:
            response = await fetcher.fetch(url)
        except FetchError as exc:
            if walk.pages == 0 and getattr(exc, "status", None) == 404:
                walk.missing = True  # no issue that day (holidays) or not yet online
            else:
                log.warning("e-paper page failed: %s", exc)
                walk.failed += 1
            continue
        walk.pages += 1
        if isinstance(frontier, StoreFrontier) and settings.archive.enabled and settings.archive.epaper_scans:
            await frontier.add_scans(response, day, pdfs=settings.archive.epaper_pdfs,  # the page as printed
                               revisit_days=settings.archive.resource_revisit_days)  # fmt: skip
        links = classify(page_links(response.body, response.url, response.content_type), settings)  # type: ignore[attr-defined]
        walk.articles += len(links.articles)
        walk.new += await frontier.add_urls(
            article_urls(links, shapes, found_on=url, due_at=due, kind="epaper_article")
        )
        for page in links.epaper_pages:
            if page.url not in seen and date_from_path(page.url, shapes) == day:
                seen.add(page.url)
                todo.append(page.url)
    return walk


def days(since: date, until: date) -> list[date]:
    """Every date from ``until`` back to ``since`` (newest first: recent issues matter most)."""
    n = (until - since).days
    return [until - timedelta(days=i) for i in range(n + 1)]


class StoreFrontier:
    """The ``Frontier`` discovery writes to: the store's ``add_urls``, with known articles recognised
    first. A link whose URL carries the id of an article we already have (the same CmsTop id under
    another date folder, a redirecting alias) is that article: its URL is recorded as an alias at
    once and nothing is fetched, so related lists full of aliases cost no requests. The id comes from
    the site profile's URL patterns (``site_id`` of the templates), the rung the store deduplicates
    on.

    ``add_urls`` for discovery: new URLs go to the store, aliases of stored articles are recorded."""

    def __init__(self, store: AsyncStore, profile: SiteProfile) -> None:
        self.store = store
        self.profile = profile

    async def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Write what ``links`` makes of ``urls`` (one transaction); how many URLs were new."""
        return await self.store.add_discoveries(self.links(urls), seen_at=datetime.now(UTC))

    async def known_before(self, urls: Iterable[str], at: datetime) -> set[str]:
        """Those of ``urls`` the archive held before ``at`` (see ``Store.known_before``)."""
        return await self.store.known_before(list(urls), at)

    async def add_scans(self, response: Any, day: date, *, pdfs: bool, revisit_days: float) -> int:
        """Queue the scan (and with ``pdfs`` the PDF) of the e-paper page ``response`` as resources
        of that page; how many were queued."""
        found = epaper_scans(response.body, response.url, content_type=response.content_type, pdfs=pdfs)
        if not found:
            return 0
        return await self.store.add_page_resources(None, [(f.url, f.kind) for f in found], found_on=response.url,
                                                   published_on=day, revisit_days=revisit_days)  # fmt: skip

    def links(self, urls: Iterable[NewUrl]) -> Discoveries:
        """``urls`` with the site id of each (no database read): the store sets apart the addresses
        of stored articles in the transaction that writes them, alone (``add_urls``) or with the
        page they were found on (``Store.store_fetched``)."""
        items = tuple(urls)
        return Discoveries(items, site_ids=tuple(self._site_id(item.url) for item in items))

    def _site_id(self, url: str) -> str | None:
        template, groups = choose_template(url, "", self.profile)
        return site_id(template, groups) or None
