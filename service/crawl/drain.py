"""Draining the frontier: claim due URLs and run each through the pipeline, a few at a time.

The same loop serves the daemon (everything due) and the backfill (only URLs published within its
date range). Politeness is the fetcher's job (per-host rate and in-flight caps), so the loop may
run several workers; a worker that finds nothing due ends. On stop, claimed URLs that were not
started are handed back at once, and the one in flight is finished (or left to its lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Collection
from datetime import UTC, date, datetime, timedelta

from service.crawl.context import CrawlContext, CrawlRun
from service.crawl.pipeline import process
from service.crawl.schedule import is_sweep
from service.errors import StoreError
from service.store import ClaimedUrl

log = logging.getLogger(__name__)

#: the longest a worker pauses for a held-off host; beyond it the URLs simply wait in the frontier
MAX_PAUSE_S = 60.0
#: URLs one worker claims at once: small, so a stop hands back little and workers share fairly
CLAIM_BATCH = 8


def worker_id() -> str:
    """``host:pid``: lets a restarted process on the same host release the leases of a dead one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def release_dead_leases(crawl: CrawlContext | CrawlRun) -> int:
    """Hand back the URLs leased by processes of this host that no longer run (a kill -9, a crash),
    so a restart does not wait for their leases to run out. Leases of other hosts expire by time."""
    host = socket.gethostname()
    dead = [w for w in await crawl.store.leased_workers() if w.startswith(host + ":") and not _alive(w)]
    if not dead:
        return 0
    return await crawl.store.release_leases(dead, max_attempts=crawl.settings.fetch.max_attempts)


async def hand_back_leases(crawl: CrawlContext | CrawlRun) -> int:
    """Hand back every URL this process still holds (at a stop, after the jobs ended); how many."""
    n = await crawl.store.release_leases([crawl.worker])
    crawl.stranded.clear()
    return n


async def hand_back_stranded(crawl: CrawlContext | CrawlRun) -> int:
    """Hand back the URLs a database failure left leased to this process (``CrawlContext.stranded``)
    now that the database answers: due at once, no attempt counted; how many. Raises ``StoreError``
    while it still fails (those not handed back stay for the next try)."""
    now = datetime.now(UTC)
    done = 0
    while crawl.stranded:
        url_id = crawl.stranded.pop()  # taken before the await: two callers never hand back one URL twice
        try:
            await crawl.store.finish_url(url_id, state="new", next_due_at=now, error=None)
        except KeyError:  # no such URL any more: nothing to hand back
            continue
        except BaseException:
            crawl.stranded.add(url_id)
            raise
        done += 1
    return done


def _alive(worker: str) -> bool:
    try:
        return pid_alive(int(worker.rsplit(":", 1)[1]))
    except ValueError:
        return True


def lease_seconds(crawl: CrawlRun) -> float:
    """Long enough for one URL with its retries and its further pages."""
    cfg = crawl.settings.fetch
    return 60 + cfg.timeout_s * (cfg.retries + 1) * 3


async def drain(
    crawl: CrawlRun,
    *,
    stop: asyncio.Event,
    kinds: Collection[str] | None = None,
    published_between: tuple[date, date] | None = None,
    workers: int | None = None,
    priorities: tuple[int, int] | None = None,
) -> int:
    """Process due URLs until none is due or ``stop`` is set; how many were processed.

    ``priorities``: claim only URLs of a priority in this band (``jinshan recheck`` takes its own);
    without it, sweep checks are claimed while the process's ``SweepBudget`` allows, and after every
    fresher due URL (the claim's order).

    Raises ``StoreError`` when the database fails (the cycle cannot go on), once every worker has
    stopped: the URL in hand and the rest of each batch are handed back (due now, no attempt
    counted), or, while the database cannot take even that, left in ``crawl.stranded`` for
    ``hand_back_stranded``. Any other failure of one URL is recorded on that URL and the loop goes on.
    """
    if crawl.stranded:
        await hand_back_stranded(crawl)
    n = workers or max(1, crawl.settings.fetch.concurrency * 2)
    broken: list[StoreError] = []
    done = await asyncio.gather(
        *(_worker(crawl, stop, broken, kinds, published_between, priorities) for _ in range(n))
    )
    if broken:
        raise broken[0]
    failure = archive_failure(crawl)
    if failure is not None:
        log.error("the archive cannot be written (%s): fetching stopped; the pages not archived are due "
                  "again and a run after space is freed fetches them", failure)  # fmt: skip
    return sum(done)


def archive_failure(crawl: CrawlRun) -> str | None:
    """Why the last archive write failed, while it did (then every page would fail alike: the drain
    stops claiming); None when the archive works or the fetcher has none."""
    failure: str | None = getattr(crawl.fetcher, "archive_failure", None)
    return failure


async def _worker(
    crawl: CrawlRun,
    stop: asyncio.Event,
    broken: list[StoreError],
    kinds: Collection[str] | None,
    published_between: tuple[date, date] | None,
    priorities: tuple[int, int] | None,
) -> int:
    processed = 0
    budget = crawl.context.sweep if priorities is None else None
    while not stop.is_set() and not broken and archive_failure(crawl) is None:
        bands: list[tuple[int, int] | None] = [priorities] if budget is None else list(budget.bands())
        batch: list[ClaimedUrl] = []
        try:
            for band in bands:  # fresh URLs first, then sweep checks while the budget allows
                batch += await _claim(crawl, CLAIM_BATCH - len(batch), kinds, published_between, band)
                if len(batch) >= CLAIM_BATCH:
                    break
        except StoreError as exc:
            broken.append(exc)
            await _hand_back(crawl, batch)
            return processed
        if not batch:
            return processed
        if budget is not None:
            budget.spend(sum(1 for item in batch if is_sweep(item.priority)))
        for i, item in enumerate(batch):
            if stop.is_set() or broken or archive_failure(crawl) is not None:
                await _hand_back(crawl, batch[i:])
                return processed
            try:
                await _one(crawl, item)
            except StoreError as exc:  # the database's fault, not the URL's: it goes back untouched
                broken.append(exc)
                await _hand_back(crawl, batch[i:])
                return processed
            except asyncio.CancelledError:  # the stop's grace ran out: this one and the rest go back
                await _hand_back(crawl, batch[i:])
                raise
            processed += 1
            await _pause_if_deferred(crawl, stop)
    return processed


async def _claim(
    crawl: CrawlRun,
    limit: int,
    kinds: Collection[str] | None,
    published_between: tuple[date, date] | None,
    priorities: tuple[int, int] | None,
) -> list[ClaimedUrl]:
    return await crawl.store.claim_due(limit=limit, now=datetime.now(UTC), lease_s=lease_seconds(crawl),
                                 worker=crawl.worker, kinds=kinds, published_between=published_between,
                                 max_attempts=crawl.settings.fetch.max_attempts, priorities=priorities)  # fmt: skip


async def _pause_if_deferred(crawl: CrawlRun, stop: asyncio.Event) -> None:
    """A host said "wait" (Retry-After, robots.txt unreachable): let it rest rather than claiming URL
    after URL only to hand them back; a long wait is left to the frontier's due times instead."""
    if crawl.defer_until is None:
        return
    wait = (crawl.defer_until - datetime.now(UTC)).total_seconds()
    if wait <= 0:
        crawl.defer_until = None
        return
    if wait <= MAX_PAUSE_S:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)


async def _one(crawl: CrawlRun, item: ClaimedUrl) -> None:
    try:
        await process(crawl, item)
    except StoreError:
        raise
    except Exception as exc:  # one bad page never stops the job: record it on its URL, go on
        log.exception("unexpected failure on %s", item.url)
        crawl.count("error")
        due = datetime.now(UTC) + timedelta(seconds=crawl.settings.fetch.retry_after_s)
        await crawl.store.finish_url(
            item.id, state="retry", next_due_at=due, error=f"internal: {exc!r}"[:500]
        )


async def _hand_back(crawl: CrawlRun, items: list[ClaimedUrl]) -> None:
    """``items`` back to the frontier, due now, no attempt counted. Those the database does not take
    now (it is the reason) wait in ``crawl.stranded`` for ``hand_back_stranded``."""
    now = datetime.now(UTC)
    for n, item in enumerate(items):
        try:
            await crawl.store.finish_url(item.id, state="new", next_due_at=now, error=None)
        except (StoreError, asyncio.CancelledError) as exc:
            crawl.stranded.update(i.id for i in items[n:])
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
