"""One frontier URL end to end: fetch → archive → extract → store, isolated from every other URL.

Whatever happens to one URL is recorded on that URL (state, next due time, last error) and counted;
nothing here raises to the caller except a database that cannot be written at all (``StoreError``:
the database's fault, never charged to the URL). Every database call is awaited on the store's
threads (``AsyncStore``), never run on the event loop. Data flows one way: the fetcher never sees an
Article, the store never sees HTML.
"""

from __future__ import annotations

import logging
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from service.crawl import resources
from service.crawl.context import CrawlRun
from service.crawl.discover import article_urls, classify
from service.crawl.pages import LivePages, page_of, read_article
from service.crawl.schedule import RECHECK_PRIORITY, next_check
from service.errors import NotAnArticle, PermanentFetchError, Redirected, TransientFetchError
from service.extract.listing import page_hrefs
from service.fetch.client import ARCHIVE_FAILED
from service.model import Article, Link
from service.settings import Settings
from service.site.urls import shapes_of
from service.store import ClaimedUrl, Discoveries

log = logging.getLogger(__name__)

#: hrefs that can be article pages at all (the harvest resolves and classifies only these)
PAGE_HREF = re.compile(rb"\.s?html?(?:[?#]|$)", re.IGNORECASE)
#: how many harvested URLs are remembered before the memory starts over
HARVEST_MEMORY = 200_000


def retry_time(
    attempts: int, settings: Settings, now: datetime, retry_at: datetime | None, rng: random.Random
) -> datetime:
    """When a transiently failed URL is tried again: the server's word (Retry-After, host hold-off)
    if later, else ``retry_after_s`` doubled per failed attempt, capped, with ±20 % jitter."""
    cfg = settings.fetch
    delay = min(cfg.retry_after_s * (2 ** max(attempts, 0)), cfg.retry_after_max_s) * rng.uniform(0.8, 1.2)
    ours = now + timedelta(seconds=delay)
    return max(ours, retry_at) if retry_at else ours


async def process(crawl: CrawlRun, item: ClaimedUrl) -> str:
    """Handle one claimed URL; returns the outcome word that was counted."""
    if item.kind == "resource":  # an image, stylesheet or font of archived pages
        return await resources.process_resource(crawl, item)
    now = datetime.now(UTC)
    cfg = crawl.settings.fetch
    conditional = cfg.conditional_requests and item.article_id is not None
    if conditional and (item.etag or item.last_modified):
        crawl.count("conditional")
    try:
        response = await crawl.fetcher.fetch(
            item.url,
            etag=item.etag if conditional else None,
            last_modified=item.last_modified if conditional else None,
            previous_digest=item.payload_digest,
            follow=lambda target: _unknown(crawl, target),
        )
    except Redirected as exc:
        return await _known_target(crawl, item, exc, now)
    except TransientFetchError as exc:
        return await _transient(crawl, item, exc, now)
    except PermanentFetchError as exc:
        return await _permanent(crawl, item, exc, now)
    crawl.metrics.fetches.labels(status=str(response.status)).inc()
    crawl.count("fetched")

    if response.not_modified:
        await _record(crawl, item, response, error=None)
        crawl.metrics.articles.labels(outcome="unchanged").inc()
        crawl.count("unchanged")
        check = next_check(_anchor(item), now, crawl.settings.schedule, url_id=item.id)
        await crawl.store.finish_url(item.id, state="done", next_due_at=check.due_at if check else None,
                                     status=304, priority=check.priority if check else None)  # fmt: skip
        if item.article_id is not None:
            await _came_back(crawl, item, item.article_id)
        return "unchanged"
    pages = [response]  # and each further page of a split article, for its resources
    try:
        article = await _extract_all(crawl, item, response, pages)
    except TransientFetchError as exc:  # a further page of a split article failed: the whole URL retries
        return await _transient(crawl, item, exc, now)
    except PermanentFetchError as exc:
        return await _permanent(crawl, item, exc, now)
    except NotAnArticle as exc:
        crawl.metrics.not_articles.labels(reason=exc.reason).inc()
        crawl.count("not_article")
        log.info("not an article (%s): %s", exc.reason, item.url)
        await _record(crawl, item, response, error=f"not_article: {exc.reason}")
        await crawl.store.finish_url(item.id, state="not_article", next_due_at=None, error=f"not_article: {exc.reason}",
                               status=response.status, etag=response.etag, last_modified=response.last_modified,
                               payload_digest=response.payload_digest)  # fmt: skip
        return "not_article"
    crawl.stats.observe(article)
    await resources.queue_for_page(crawl, item, pages, article)  # before the page is stored: see there
    for name, layer in article.fields_from.items():
        crawl.metrics.layers.labels(field=name, layer=layer.split(":")[0]).inc()
    found = (
        _harvest(crawl, item, response)
        if crawl.harvest and crawl.settings.site.follow_article_links
        else None
    )
    # every check of the article is aged from its publication time, or from when it was first seen
    anchor = article.published_at or item.published_at or response.fetched_at
    check = next_check(anchor, now, crawl.settings.schedule, url_id=item.id, entering=item.article_id is None)
    # the fetch, the article, the URL's new state and the page's links in one transaction: one commit
    outcome = await crawl.store.store_fetched(article, url_id=item.id, fetch=_fetch_values(crawl, response, error=None),
                                              next_due_at=check.due_at if check else None, etag=response.etag,
                                              last_modified=response.last_modified, found=found,
                                              priority=check.priority if check else None, published_at=anchor)  # fmt: skip
    await _came_back(crawl, item, outcome.article_id)
    if found is not None and found.urls:
        crawl.harvested.update(u.url for u in found.urls)  # only once they are written
        crawl.count("discovered_on_articles", outcome.new_urls)
    if response.redirects and crawl.store.key(item.url) != crawl.store.key(article.url):
        await crawl.store.add_alias(
            outcome.article_id, item.url, reason="redirect", seen_at=response.fetched_at
        )
    crawl.metrics.articles.labels(outcome=outcome.kind).inc()
    crawl.count(outcome.kind)
    return outcome.kind


def _harvest(crawl: CrawlRun, item: ClaimedUrl, response: Any) -> Discoveries | None:
    """Article links on an article page (related lists, 上一篇/下一篇), for the frontier: they reach
    articles that no list page shows any more. None when there is nothing new to write."""
    # related lists repeat the same popular articles: a URL handed to the frontier once is not again,
    # and is dropped before it is classified (most hrefs of a page were seen on earlier pages)
    hrefs = [
        u for u in page_hrefs(response.body, response.url, href_filter=PAGE_HREF) if u not in crawl.harvested
    ]
    links = classify((Link(u) for u in hrefs), crawl.settings)
    fresh = article_urls(
        links, shapes_of(crawl.settings.profile), found_on=item.url, due_at=datetime.now(UTC)
    )
    if len(crawl.harvested) > HARVEST_MEMORY:
        crawl.harvested.clear()
    return crawl.frontier.links(fresh) if fresh else None


async def _unknown(crawl: CrawlRun, target: str) -> bool:
    """Should a redirect to ``target`` be followed: no stored article has that address."""
    return await crawl.store.article_for_url(target) is None


def _anchor(item: ClaimedUrl) -> datetime | None:
    """What the checks of a claimed URL are aged from: the time stored with it (publication, or
    first seen). Only a URL stored by older code without one falls back to its path's date."""
    if item.published_at is not None:
        return item.published_at
    if item.published_on is None:
        return None
    from service.text.dates import at_midnight

    return at_midnight(item.published_on)


async def _came_back(crawl: CrawlRun, item: ClaimedUrl, article_id: int) -> None:
    """An article ``jinshan recheck --gone`` asked about answered again: no longer gone."""
    if item.priority == RECHECK_PRIORITY and await crawl.store.came_back(article_id):
        crawl.count("came_back")
        log.info("article came back: %s", item.url)


async def _extract_all(
    crawl: CrawlRun, item: ClaimedUrl, response: Any, pages: list[Any] | None = None
) -> Article:
    """The article of a response, its further pages fetched (each recorded under the same frontier
    URL, so ``reparse`` finds them) and joined; each page extracted off the event loop, bounded in
    depth and time."""

    async def fetched(more: Any) -> None:
        crawl.metrics.fetches.labels(status=str(more.status)).inc()
        crawl.count("fetched")
        await _record(crawl, item, more, error=None)
        if pages is not None:
            pages.append(more)

    return await read_article(page_of(response), LivePages(crawl.fetcher, fetched), crawl.settings.profile,
                              fetched_on=response.fetched_at.date(), bounded=True)  # fmt: skip


def _fetch_values(crawl: CrawlRun, response: Any, *, error: str | None) -> dict[str, Any]:
    """The keyword arguments of ``Store.record_fetch`` for a response."""
    warc = response.warc
    return {
        "status": response.status,
        "fetched_at": response.fetched_at,
        "warc_file": warc.filename if warc else None,
        "warc_offset": warc.offset if warc else None,
        "warc_length": warc.length if warc else None,
        "payload_digest": response.payload_digest,
        "error": error,
        "elapsed_s": None,
        "run_id": crawl.run_id,
    }


async def _record(crawl: CrawlRun, item: ClaimedUrl, response: Any, *, error: str | None) -> int:
    return await crawl.store.record_fetch(item.id, **_fetch_values(crawl, response, error=error))


async def _record_error(crawl: CrawlRun, item: ClaimedUrl, exc: Any, now: datetime) -> None:
    await crawl.store.record_fetch(
        item.id, status=exc.status, fetched_at=now, warc_file=None, warc_offset=None, warc_length=None,
        payload_digest=None, error=str(exc)[:500], elapsed_s=None, run_id=crawl.run_id,
    )  # fmt: skip


async def _known_target(crawl: CrawlRun, item: ClaimedUrl, exc: Redirected, now: datetime) -> str:
    """The URL redirects to an article we already have: record the address, download nothing."""
    crawl.metrics.fetches.labels(status=str(exc.status)).inc()
    article_id = await crawl.store.article_for_url(exc.target)
    crawl.count("alias")
    await crawl.store.finish_url(
        item.id,
        state="done",
        next_due_at=None,
        status=exc.status,
        error=f"redirects to {exc.target}",
        alias_of=None if article_id is None else (article_id, item.url, now),
    )
    return "alias"


async def _transient(crawl: CrawlRun, item: ClaimedUrl, exc: TransientFetchError, now: datetime) -> str:
    if exc.reason == ARCHIVE_FAILED:
        # the page came but the archive could not take it (a full disk): the archive's fault, not
        # the URL's. Due again now, no attempt spent; the drain stops (every page would fail alike)
        await crawl.store.finish_url(item.id, state="new", next_due_at=now, error=str(exc)[:500])
        crawl.count("not_archived")
        return "not_archived"
    if not exc.sent:  # the host is held off (Retry-After, robots.txt unreachable): wait, no attempt spent
        due = exc.retry_at or now + timedelta(seconds=crawl.settings.fetch.retry_after_s)
        await crawl.store.finish_url(item.id, state="new", next_due_at=due, error=str(exc)[:500])
        crawl.count("deferred")
        crawl.defer_until = max(crawl.defer_until or due, due)
        return "deferred"
    crawl.metrics.fetches.labels(status=exc.reason).inc()
    await _record_error(crawl, item, exc, now)
    attempts = item.attempts + 1
    if attempts >= crawl.settings.fetch.max_attempts:
        crawl.count("failed")
        log.error("giving up after %d attempts: %s", attempts, exc)
        await crawl.store.finish_url(
            item.id, state="failed", next_due_at=None, error=str(exc)[:500], status=exc.status
        )
        return "failed"
    crawl.count("retry")
    due = retry_time(item.attempts, crawl.settings, now, exc.retry_at, crawl.rng)
    log.warning("will retry at %s: %s", due.isoformat(timespec="seconds"), exc)
    await crawl.store.finish_url(
        item.id, state="retry", next_due_at=due, error=str(exc)[:500], status=exc.status
    )
    return "retry"


async def _permanent(crawl: CrawlRun, item: ClaimedUrl, exc: PermanentFetchError, now: datetime) -> str:
    crawl.metrics.fetches.labels(status=str(exc.status) if exc.status else exc.reason).inc()
    await _record_error(crawl, item, exc, now)
    if exc.status in (404, 410):
        if await crawl.store.mark_gone(item.url, now):
            crawl.metrics.articles.labels(outcome="gone").inc()
            crawl.count("gone")
            log.info("article gone (%s): %s", exc.status, item.url)
        await crawl.store.finish_url(
            item.id, state="gone", next_due_at=None, error=str(exc)[:500], status=exc.status
        )
        return "gone"
    crawl.count("refused")
    log.warning("refused: %s", exc)
    await crawl.store.finish_url(
        item.id, state="refused", next_due_at=None, error=str(exc)[:500], status=exc.status
    )
    return "refused"
