"""``AsyncStore``: the archive for code that runs on the event loop, without ever blocking it.

A ``Store`` call blocks its thread while the database works, and while it waits: SQLite's write
lock held by another process (up to ``database.busy_timeout_s``), a PostgreSQL server that restarts
or hangs. On the event loop that stops everything else (other fetches, signals, /healthz). So the
crawl, the daemon and the backfill reach the store through this door: each method is the ``Store``
method of the same name, run on a thread of its own kind and awaited.

- **Writes** run on ONE thread per ``AsyncStore`` (the "writer"), in the order they were asked:
  the process's writes never queue against each other on SQLite's lock, and SQLite's write
  connection lives on that thread (``open`` builds the ``Store`` there).
- **Reads** run on a small pool of reader threads, never behind a write that waits for the lock.
- The threads are daemon threads: a call stuck on a database that hangs (a stopped server) never
  keeps the process from exiting; the database rolls back what it did not commit.

Cancelling the awaiting task drops a call that has not started; one that has started runs to its
end (a transaction is never cut in half) and its result is lost: the caller treats its effect as
unknown (claimed URLs are handed back by ``release_leases`` at the end). Errors are the ``Store``'s,
and a database driver's error that got past it is raised as ``StoreError`` too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal, ParamSpec, TypeVar

from service.errors import StoreError
from service.model import Article
from service.settings import Settings
from service.store import db
from service.store.budget import Grant
from service.store.connect import open_store
from service.store.leader import LeaderLock
from service.store.recheck import RecheckRange
from service.store.repo import Store
from service.store.resources import ResourceResult
from service.store.types import ClaimedUrl, Discoveries, NewUrl, StoreOutcome

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

#: what ``probe`` says of the database
DatabaseState = Literal["ok", "locked", "unreachable", "timeout"]
#: reader threads per process: the crawl reads little (a claim is a write); the daemon's health
#: check and a few URL look-ups may run beside a slow one
READERS = 4
#: how long ``aclose`` waits for the writes already queued
CLOSE_WAIT_S = 2.0
#: how long ``write_blocking`` waits for its write (queue and lock waits included)
BLOCKING_WAIT_S = 60.0

_Job = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any], "concurrent.futures.Future[Any]"]


class _Lane:
    """Daemon threads that run submitted calls from one queue, in order (one thread: one at a time)."""

    def __init__(self, name: str, threads: int) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}" if threads > 1 else name, daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        """The future of ``fn(*args, **kwargs)``; failed at once with ``StoreError`` after ``close``
        (no thread would ever run it)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        if self._closed:
            future.set_exception(StoreError("the store is closed"))
        else:
            self._queue.put((fn, args, kwargs, future))
        return future

    def owns_current_thread(self) -> bool:
        return threading.current_thread() in self._threads

    def _serve(self) -> None:
        while (job := self._queue.get()) is not None:
            fn, args, kwargs, future = job
            if not future.set_running_or_notify_cancel():
                continue  # its caller stopped waiting before it began: never run it
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # handed to the awaiting task, raised there
                with contextlib.suppress(concurrent.futures.InvalidStateError):  # failed by ``close``
                    future.set_exception(exc)
            else:
                with contextlib.suppress(concurrent.futures.InvalidStateError):
                    future.set_result(result)

    def close(self) -> None:
        """Let the threads end once the calls already queued are done (it does not wait for them)."""
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)


class AsyncStore:
    """``Store``'s methods as coroutines, run on its writer thread (writes) or reader threads (reads).

    ``AsyncStore(store)`` wraps a ``Store`` the caller closes; ``await AsyncStore.open(settings)``
    opens one on the writer thread and ``aclose``/``close`` closes it. ``sync`` is the ``Store``.
    """

    def __init__(self, store: Store, *, owns: bool = False, _writer: _Lane | None = None) -> None:
        self.sync = store
        self.owns = owns
        self._writer = _writer or _Lane("jinshan-store-writer", 1)
        self._readers = _Lane("jinshan-store-reader", READERS)
        self._probing: concurrent.futures.Future[DatabaseState] | None = None
        #: the writes ``write_blocking`` callers wait for: failed by ``close`` so they stop waiting
        self._blocking: set[concurrent.futures.Future[Any]] = set()
        self._blocking_lock = threading.Lock()

    @classmethod
    async def open(cls, settings: Settings) -> AsyncStore:
        """``open_store(settings)`` on the writer thread (its schema check or migration too), owned:
        closed by ``aclose``. Raises ``StoreError``."""
        writer = _Lane("jinshan-store-writer", 1)
        try:
            store = await asyncio.wrap_future(writer.submit(open_store, settings))
        except BaseException:
            writer.close()
            raise
        return cls(store, owns=True, _writer=writer)

    def close(self) -> None:
        """Stop the threads once their queued calls are done; close the ``Store`` if it is ours.
        Threads waiting in ``write_blocking`` get ``StoreError`` at once."""
        with self._blocking_lock:
            waiting, self._blocking = self._blocking, set()
        for future in waiting:
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                future.set_exception(StoreError("the store was closed before the database answered"))
        self._writer.close()
        self._readers.close()
        if self.owns:
            self.sync.close()

    async def aclose(self, *, wait_s: float = CLOSE_WAIT_S) -> None:
        """``close``, after the writes already queued ran (the last counters of a run, say), but
        waiting no longer than ``wait_s`` for them (the database may hang)."""
        if self.owns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.wrap_future(self._writer.submit(lambda: None)), wait_s)
        self.close()

    # --- the two doors, for a call this class has no method for ---------------------------------

    async def write(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the writer thread (a write of ``sync``)."""
        return await asyncio.wrap_future(self._writer.submit(self._translated(fn), *args, **kwargs))

    async def read(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on a reader thread (a read of ``sync``)."""
        return await asyncio.wrap_future(self._readers.submit(self._translated(fn), *args, **kwargs))

    def _translated(self, fn: Callable[P, T]) -> Callable[P, T]:
        """``fn``, with an error of the database driver that got past the store (SQLite's "database
        is locked" raised while a transaction begins, say) raised as the ``StoreError`` it is: the
        crawl tells the database's faults from a page's by that type."""
        driver_error = self.sync.engine.dialect.loaded_dbapi.Error

        @functools.wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return fn(*args, **kwargs)
            except driver_error as exc:
                raise StoreError(f"{getattr(fn, '__name__', 'store')}: {exc}") from exc

        return call

    def write_blocking(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` on the writer thread, waited for by this thread, which must not
        be an event loop's (the fetcher's shared budget calls from its worker threads), for at most
        ``BLOCKING_WAIT_S``: then ``StoreError`` (that worker thread is free again, and a process
        whose database hangs can still exit)."""
        if self._writer.owns_current_thread():
            return self._translated(fn)(*args, **kwargs)
        _not_on_a_loop("write_blocking")
        future = self._writer.submit(self._translated(fn), *args, **kwargs)
        with self._blocking_lock:
            self._blocking.add(future)
        try:
            return future.result(timeout=BLOCKING_WAIT_S)
        except concurrent.futures.TimeoutError:
            future.cancel()  # dropped if it has not begun; else it ends on its own
            raise StoreError(f"{getattr(fn, '__name__', 'store')}: no answer from the database in "
                             f"{BLOCKING_WAIT_S:.0f} s") from None  # fmt: skip
        finally:
            with self._blocking_lock:
                self._blocking.discard(future)

    def write_soon(self, fn: Callable[P, Any], /, *args: P.args, **kwargs: P.kwargs) -> None:
        """``fn(*args, **kwargs)`` on the writer thread, not waited for: a failure is logged (a
        note to other processes, such as a host's hold, that is not worth stopping for)."""

        def logged(future: concurrent.futures.Future[Any]) -> None:
            if not future.cancelled() and (exc := future.exception()) is not None:
                log.warning("%s", (str(exc).splitlines() or [type(exc).__name__])[0])

        self._writer.submit(self._translated(fn), *args, **kwargs).add_done_callback(logged)

    # --- health ------------------------------------------------------------------------------------

    async def probe(self, timeout_s: float) -> DatabaseState:
        """How the database answers a short write probe (``db.probe``) within ``timeout_s``:
        "ok", "locked" (SQLite: another process holds the write lock), "unreachable", or
        "timeout" (no answer in time: a hung or stopped server). Never waits longer than
        ``timeout_s``; while an earlier probe is still stuck, says "timeout" at once."""
        if self._probing is not None and not self._probing.done():
            return "timeout"
        future: concurrent.futures.Future[DatabaseState] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(db.probe(self.sync.engine, lock_wait_s=timeout_s / 2))
            except BaseException as exc:
                future.set_exception(exc)

        self._probing = future
        threading.Thread(target=run, name="jinshan-store-probe", daemon=True).start()
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), timeout_s)
        except TimeoutError:
            return "timeout"

    # --- frontier ------------------------------------------------------------------------------------

    def key(self, url: str) -> str:
        """``Store.key`` (no database: runs here)."""
        return self.sync.key(url)

    async def add_urls(self, urls: Collection[NewUrl]) -> int:
        return await self.write(self.sync.add_urls, list(urls))

    async def add_discoveries(self, found: Discoveries, *, seen_at: datetime) -> int:
        return await self.write(self.sync.add_discoveries, found, seen_at=seen_at)

    async def known_before(self, urls: Collection[str], at: datetime) -> set[str]:
        return await self.read(self.sync.known_before, list(urls), at)

    async def claim_due(
        self,
        *,
        limit: int,
        now: datetime,
        lease_s: float,
        worker: str,
        kinds: Collection[str] | None = None,
        published_between: tuple[date, date] | None = None,
        max_attempts: int | None = None,
        priorities: tuple[int, int] | None = None,
    ) -> list[ClaimedUrl]:
        return await self.write(self.sync.claim_due, limit=limit, now=now, lease_s=lease_s, worker=worker,
                                kinds=kinds, published_between=published_between, max_attempts=max_attempts,
                                priorities=priorities)  # fmt: skip

    async def record_fetch(
        self,
        url_id: int,
        *,
        status: int | None,
        fetched_at: datetime,
        warc_file: str | None,
        warc_offset: int | None,
        warc_length: int | None,
        payload_digest: str | None,
        error: str | None,
        elapsed_s: float | None,
        run_id: int | None,
    ) -> int:
        return await self.write(self.sync.record_fetch, url_id, status=status, fetched_at=fetched_at,
                                warc_file=warc_file, warc_offset=warc_offset, warc_length=warc_length,
                                payload_digest=payload_digest, error=error, elapsed_s=elapsed_s, run_id=run_id)  # fmt: skip

    async def finish_url(
        self,
        url_id: int,
        *,
        state: str,
        next_due_at: datetime | None,
        error: str | None = None,
        status: int | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        payload_digest: str | None = None,
        reset_attempts: bool = False,
        alias_of: tuple[int, str, datetime] | None = None,
        priority: int | None = None,
        published_at: datetime | None = None,
    ) -> None:
        await self.write(self.sync.finish_url, url_id, state=state, next_due_at=next_due_at, error=error,
                         status=status, etag=etag, last_modified=last_modified, payload_digest=payload_digest,
                         reset_attempts=reset_attempts, alias_of=alias_of, priority=priority,
                         published_at=published_at)  # fmt: skip

    async def frontier_counts(self) -> dict[str, int]:
        return await self.read(self.sync.frontier_counts)

    async def leased_workers(self) -> list[str]:
        return await self.read(self.sync.leased_workers)

    async def release_leases(self, workers: Collection[str], *, max_attempts: int | None = None) -> int:
        return await self.write(self.sync.release_leases, list(workers), max_attempts=max_attempts)

    # --- articles ------------------------------------------------------------------------------------

    async def store_fetched(
        self,
        article: Article,
        *,
        url_id: int,
        fetch: Mapping[str, Any],
        next_due_at: datetime | None,
        etag: str | None,
        last_modified: str | None,
        found: Discoveries | None = None,
        priority: int | None = None,
        published_at: datetime | None = None,
    ) -> StoreOutcome:
        return await self.write(self.sync.store_fetched, article, url_id=url_id, fetch=fetch,
                                next_due_at=next_due_at, etag=etag, last_modified=last_modified, found=found,
                                priority=priority, published_at=published_at)  # fmt: skip

    async def article_for_url(self, url: str) -> int | None:
        return await self.read(self.sync.article_for_url, url)

    async def add_alias(self, article_id: int, url: str, *, reason: str, seen_at: datetime) -> bool:
        return await self.write(self.sync.add_alias, article_id, url, reason=reason, seen_at=seen_at)

    async def mark_gone(self, url: str, at: datetime) -> bool:
        return await self.write(self.sync.mark_gone, url, at)

    async def refresh_search(self) -> int:
        return await self.write(self.sync.refresh_search)

    # --- recheck -------------------------------------------------------------------------------------

    async def count_recheck(self, rng: RecheckRange) -> int:
        return await self.read(self.sync.count_recheck, rng)

    async def mark_recheck(self, rng: RecheckRange, *, priority: int, now: datetime) -> int:
        return await self.write(self.sync.mark_recheck, rng, priority=priority, now=now)

    async def unfinished_recheck(self, *, priority: int, since: datetime) -> int:
        return await self.read(self.sync.unfinished_recheck, priority=priority, since=since)

    async def came_back(self, article_id: int) -> bool:
        return await self.write(self.sync.came_back, article_id)

    # --- resources archived with pages (``store.captures``) -----------------------------------------

    def resource_key(self, url: str) -> str:
        return self.sync.resource_key(url)

    async def add_page_resources(
        self,
        page_url_id: int | None,
        needed: Iterable[tuple[str, str]],
        *,
        found_on: str,
        published_on: date | None,
        revisit_days: float,
    ) -> int:
        return await self.write(self.sync.add_page_resources, page_url_id, list(needed), found_on=found_on,
                                published_on=published_on, revisit_days=revisit_days)  # fmt: skip

    async def known_payload(self, url: str, digest: str) -> tuple[str, datetime] | None:
        return await self.read(self.sync.known_payload, url, digest)

    async def record_resource(
        self,
        url_id: int,
        url: str,
        result: ResourceResult,
        *,
        fetch: dict[str, Any] | None,
        state: str,
        next_due_at: datetime | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        await self.write(self.sync.record_resource, url_id, url, result, fetch=fetch, state=state,
                         next_due_at=next_due_at, etag=etag, last_modified=last_modified)  # fmt: skip

    async def resources_of(self, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        return await self.read(self.sync.resources_of, list(urls))

    # --- shared politeness (called from the fetcher's worker threads: blocking) ---------------------

    def reserve_request(
        self,
        host: str,
        *,
        interval: float,
        concurrency: int,
        holder: str,
        lease_s: float,
        span_s: float = 0.0,
        places: int = 1,
        claim: int | None = None,
    ) -> Grant:
        return self.write_blocking(self.sync.reserve_request, host, interval=interval,
                                   concurrency=concurrency, holder=holder, lease_s=lease_s, span_s=span_s,
                                   places=places, claim=claim)  # fmt: skip

    def end_requests(self, host: str, tokens: tuple[int, ...], *, end: float, resume_at: float) -> None:
        self.write_blocking(self.sync.end_requests, host, tokens, end=end, resume_at=resume_at)

    def release_request(self, token: int) -> None:
        self.write_blocking(self.sync.release_request, token)

    # --- runs ----------------------------------------------------------------------------------------

    async def start_run(self, kind: str, params: dict[str, Any]) -> int:
        return await self.write(self.sync.start_run, kind, params)

    async def update_run(
        self, run_id: int, counters: dict[str, int], *, params: dict[str, Any] | None = None
    ) -> None:
        await self.write(self.sync.update_run, run_id, counters, params=params)

    async def finish_run(
        self, run_id: int, *, status: str, counters: dict[str, int], error: str | None = None
    ) -> None:
        await self.write(self.sync.finish_run, run_id, status=status, counters=counters, error=error)

    async def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        return await self.read(self.sync.last_runs, n)

    async def last_success(self, kind: str) -> datetime | None:
        return await self.read(self.sync.last_success, kind)

    async def interrupt_running(self) -> int:
        return await self.write(self.sync.interrupt_running)

    # --- the scheduler lock ----------------------------------------------------------------------------

    def leader_lock(self) -> LeaderLock:
        """``Store.leader_lock`` (no database until it is tried; the daemon tries it on a thread)."""
        return self.sync.leader_lock()


def _not_on_a_loop(what: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(f"AsyncStore.{what} would block the event loop: await the async method instead")
