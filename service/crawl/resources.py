"""Captures: what an archived page needs (its photos, stylesheets, their images and fonts) queued
beside it, and each such resource fetched, archived and recorded.

Orchestration only (docs/captures.md): ``extract.resources`` finds the links, the
``Fetcher`` fetches politely (the same per-host rate, robots.txt and Retry-After as pages), the
store records. Resources are frontier URLs of kind "resource" with a priority below every page
(``store.resources.RESOURCE_PRIORITY``), so they are claimed after the pages that need them and
survive a kill like any URL: a page's resources are queued before the page is stored, so a page
that is stored never lacks them, and a resource that was recorded is never fetched again (until
``archive.resource_revisit_days``, and then conditionally). Database calls run off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from service.crawl.context import CrawlRun
from service.errors import PermanentFetchError, TransientFetchError
from service.extract.resources import ResourceLink, css_resources, kind_of, page_resources
from service.model import Article
from service.store import ClaimedUrl, ResourceResult

log = logging.getLogger(__name__)
T = TypeVar("T")


async def offloop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a worker thread: a database call never blocks the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def wanted(crawl: CrawlRun) -> bool:
    """Whether pages are archived with their resources at all."""
    return crawl.settings.archive.enabled and crawl.settings.archive.resources != "off"


def links_of_pages(crawl: CrawlRun, pages: Sequence[Any], article: Article | None) -> list[ResourceLink]:
    """The resources of the fetched ``pages`` (each page of a split article) that the settings ask
    for: the article's photos, and with ``archive.resources = "page"`` what the pages need to render."""
    cfg = crawl.settings.archive
    photos = [image.url for image in article.images] if article is not None else []
    out: dict[str, ResourceLink] = {}
    for page in pages:
        for link in page_resources(page.body, page.url, content_type=page.content_type, scope=cfg.resources,
                                   scripts=cfg.resource_scripts, photos=photos):  # fmt: skip
            out.setdefault(link.url, link)
    return list(out.values())


async def queue_for_page(
    crawl: CrawlRun, item: ClaimedUrl, pages: Sequence[Any], article: Article | None
) -> int:
    """Queue the resources of ``pages`` (fetched for the frontier URL ``item``) and link them to it;
    how many were queued. Called before the page is stored: a kill in between loses nothing."""
    if not wanted(crawl):
        return 0
    links = await offloop(links_of_pages, crawl, pages, article)
    if not links:
        return 0
    queued = await crawl.store.add_page_resources(item.id, [(link.url, link.kind) for link in links], found_on=item.url,
        published_on=_published_on(item, article, crawl.settings.schedule.timezone), revisit_days=crawl.settings.archive.resource_revisit_days,
    )  # fmt: skip
    crawl.count("resources_queued", queued)
    return queued


async def queue_links(crawl: CrawlRun, item: ClaimedUrl, links: Sequence[ResourceLink]) -> int:
    """Queue ``links`` found on the page or resource ``item`` (an e-paper page's scan, the images
    and fonts of a stylesheet); how many were queued."""
    if not links or not wanted(crawl):
        return 0
    queued = await crawl.store.add_page_resources(item.id, [(link.url, link.kind) for link in links], found_on=item.url,
        published_on=item.published_on, revisit_days=crawl.settings.archive.resource_revisit_days,
    )  # fmt: skip
    crawl.count("resources_queued", queued)
    return queued


def _published_on(item: ClaimedUrl, article: Article | None, zone: str) -> date | None:
    """The date a resource is filed under (a backfill's range claims it with its page's): the
    page's date from its path, else the article's publication day in the site's time zone."""
    if item.published_on is not None or article is None or article.published_at is None:
        return item.published_on
    return article.published_at.astimezone(ZoneInfo(zone)).date()


async def process_resource(crawl: CrawlRun, item: ClaimedUrl) -> str:
    """Fetch and record one claimed resource; the outcome word that was counted ("archived",
    "revisit", "unchanged", "missing", or the frontier's "retry", "deferred", "failed")."""
    now = datetime.now(UTC)
    archived_before = item.payload_digest is not None

    async def known(digest: str) -> tuple[str, datetime] | None:
        return await crawl.store.known_payload(item.url, digest)

    try:
        response = await crawl.fetcher.fetch(
            item.url, etag=item.etag if archived_before else None,
            last_modified=item.last_modified if archived_before else None,
            previous_digest=item.payload_digest, resource=True, known_payload=known,
        )  # fmt: skip
    except TransientFetchError as exc:
        return await _transient(crawl, item, exc, now)
    except PermanentFetchError as exc:
        return await _missing(crawl, item, exc, now)
    crawl.metrics.fetches.labels(status=str(response.status)).inc()
    crawl.count("fetched")
    kind = kind_of(response.content_type, response.url)
    warc = response.warc
    # an unchanged payload (304, or the same bytes again) keeps the record that holds it
    unchanged = response.not_modified or (warc is not None and warc.revisit and archived_before
                                          and response.payload_digest == item.payload_digest)  # fmt: skip
    outcome = "unchanged" if unchanged else "revisit" if warc is not None and warc.revisit else "archived"
    result = ResourceResult(
        status="archived", fetched_at=response.fetched_at, http_status=response.status,
        content_type=response.content_type, size=len(response.body), payload_digest=response.payload_digest,
        warc_file=warc.filename if warc else None, warc_offset=warc.offset if warc else None,
        warc_length=warc.length if warc else None, revisit=bool(warc and warc.revisit), not_modified=unchanged,
    )  # fmt: skip
    fetch = {"status": response.status, "fetched_at": response.fetched_at, "warc_file": result.warc_file,
             "warc_offset": result.warc_offset, "warc_length": result.warc_length,
             "payload_digest": response.payload_digest, "error": None, "elapsed_s": None, "run_id": crawl.run_id}  # fmt: skip
    if kind == "stylesheet" and not response.not_modified and crawl.settings.archive.resources == "page":
        # before the stylesheet is recorded: a kill in between queues its images again, never loses them
        await queue_links(crawl, item, await offloop(css_resources, response.body, response.url))
    await crawl.store.record_resource(item.id, item.url, result, fetch=fetch, state="done",
                  etag=response.etag, last_modified=response.last_modified)  # fmt: skip
    crawl.metrics.resources.labels(kind=kind, outcome=outcome).inc()
    if outcome != "unchanged":
        crawl.metrics.resource_bytes.labels(kind=kind).inc(len(response.body))
    crawl.count(f"resources_{outcome}")
    return outcome


async def _transient(crawl: CrawlRun, item: ClaimedUrl, exc: TransientFetchError, now: datetime) -> str:
    from service.crawl.pipeline import _transient as frontier_transient

    outcome = await frontier_transient(crawl, item, exc, now)
    if outcome == "failed":  # given up: the pages that use it say why
        result = ResourceResult("missing", fetched_at=now, http_status=exc.status, why_not=exc.reason)
        await crawl.store.record_resource(item.id, item.url, result, fetch=None, state="failed")
        crawl.metrics.resources.labels(kind="unknown", outcome="missing").inc()
    return outcome


async def _missing(crawl: CrawlRun, item: ClaimedUrl, exc: PermanentFetchError, now: datetime) -> str:
    """Not archived, for good: too large, a refused type or host, robots.txt, 404. Recorded on the
    resource (``why_not``) and its URL; the pages that use it show why."""
    crawl.metrics.fetches.labels(status=str(exc.status) if exc.status else exc.reason).inc()
    result = ResourceResult("missing", fetched_at=now, http_status=exc.status, why_not=exc.reason)
    fetch = {"status": exc.status, "fetched_at": now, "warc_file": None, "warc_offset": None, "warc_length": None,
             "payload_digest": None, "error": str(exc)[:500], "elapsed_s": None, "run_id": crawl.run_id}  # fmt: skip
    state = "gone" if exc.status in (404, 410) else "refused"
    await crawl.store.record_resource(item.id, item.url, result, fetch=fetch, state=state)
    crawl.metrics.resources.labels(kind=kind_of(None, item.url), outcome="missing").inc()
    crawl.count("resources_missing")
    log.info("resource not archived (%s): %s", exc.reason, item.url)
    return "missing"
