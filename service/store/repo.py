"""``Store``: the one object the crawl code holds to read and write the archive.

A thin facade and the store's one door: each method opens one short transaction and delegates to
the module that owns the rows (``frontier``: urls, fetches; ``articles``: dedup, versions, aliases,
credits, images; ``search``: full-text index; ``runs``, ``leases``, ``budget``, ``reparse``,
``export``, ``stats``). Those modules take a ``Connection`` and never open one: every write goes
through ``Store._write`` (a write transaction, rerun at once when another writer won a race), every
read through ``Store._read``.
Every write is an idempotent upsert, safe to replay and safe with several processes on the same
database. Database errors surface as ``StoreError`` and its subclasses (``sql.store_error``: every
public method, and the iterators they return); bad arguments as ``ValueError``. Nothing outside
``service.store`` touches the engine.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, update
from sqlalchemy.exc import SQLAlchemyError

from service.errors import StoreError
from service.model import Article
from service.settings import DedupSettings
from service.site.urls import canonical_url, url_key
from service.store import (
    articles,
    browse,
    budget,
    dedup,
    export,
    frontier,
    leases,
    recheck,
    reparse,
    runs,
    search,
    stats,
)
from service.store.captures import CapturesDoors
from service.store.db import is_read_only, write_options
from service.store.leader import LeaderLock
from service.store.reparse import Reparsed, ReparseSource
from service.store.schema import runs as runs_table
from service.store.search import REINDEX_BATCH, SearchHit, SearchQuery
from service.store.sql import aware, first_line, rerun, store_error, translate_errors, utcnow
from service.store.types import ClaimedUrl, Discoveries, NewUrl, StoreOutcome

__all__ = ["ClaimedUrl", "Discoveries", "NewUrl", "SearchHit", "Store", "StoreOutcome"]

T = TypeVar("T")
#: runs of a write transaction that keeps losing races before it gives up
MAX_ATTEMPTS = 10


@translate_errors
class Store(CapturesDoors):
    """The archive on ``engine``. ``canonicalize`` maps a URL to its canonical form; pass
    ``canonicalizer(settings)`` (``store.connect``: the site's host aliases, dropped query parameters
    and URL shapes; the default knows none of them)."""

    def __init__(
        self,
        engine: Engine,
        dedup: DedupSettings,
        *,
        canonicalize: Callable[[str], str] = canonical_url,
    ) -> None:
        self.engine = engine
        self.dedup = dedup
        self.canonicalize = canonicalize
        #: person ids by name, read once per process and database (people recur from article to article)
        self.people = articles.KnownPeople()

    def close(self) -> None:
        """Close the database connections (the store is not used after)."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, work: Callable[[Connection], T], *, what: str, snapshot: bool = False) -> T:
        """Run ``work`` in one write transaction; rerun it at once when another writer won a race
        (a unique key taken meanwhile, ``Conflict``, a serialization failure or deadlock on
        PostgreSQL): the rerun finds the other writer's rows. Every write of the store comes here.

        SQLite takes its write lock at BEGIN (``BEGIN IMMEDIATE``), waiting up to the busy timeout.
        ``snapshot``: on PostgreSQL run at REPEATABLE READ, so every read of ``work`` sees one
        snapshot (under READ COMMITTED a lookup ladder can miss a row in one step and see it in the
        next); a concurrent write then surfaces as a serialization failure and the work is rerun.
        Raises ``StoreError`` (``sql.store_error``: ``DatabaseLocked`` after the busy timeout,
        ``DatabaseUnavailable``…), also when it still conflicts after ``MAX_ATTEMPTS`` runs."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**write_options())
                    if snapshot and conn.dialect.name == "postgresql":
                        conn.execution_options(isolation_level="REPEATABLE READ")
                    with conn.begin():
                        return work(conn)
            except Exception as exc:
                if not rerun(exc):
                    if isinstance(exc, SQLAlchemyError):
                        raise store_error(exc, what) from exc
                    raise
                if attempt == MAX_ATTEMPTS:
                    detail = first_line(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
                    raise StoreError(f"{what}: still conflicting after {attempt} attempts: {detail}") from exc
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` on a connection of its own (no write lock; its reads may see other
        transactions' commits between statements). Errors are translated by ``translate_errors``."""
        with self.engine.connect() as conn:
            return work(conn)

    def key(self, url: str) -> str:
        """The identity of ``url`` in the store (``url_key`` of its canonical form)."""
        return url_key(self.canonicalize(url))

    # --- frontier ------------------------------------------------------------------------------

    def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Add URLs to the frontier; how many were new. An existing URL keeps its state, but an
        earlier ``due_at`` wins while it is pending (finished URLs, due_at NULL, stay finished)."""
        items = list(urls)
        now = utcnow()
        return self._write(
            lambda c: frontier.add_urls(c, items, canonicalize=self.canonicalize, now=now),
            what="add_urls",
        )

    def add_discoveries(self, found: Discoveries, *, seen_at: datetime) -> int:
        """URLs and aliases found on one page, in one transaction; how many URLs were new."""
        if not found.urls and not found.aliases:
            return 0
        now = utcnow()
        return self._write(lambda c: self._discoveries(c, found, aware(seen_at), now), what="add_discoveries")

    def _discoveries(self, conn: Any, found: Discoveries, seen_at: datetime, now: datetime) -> int:
        if found.site_ids:
            found = self._apart(conn, found)
        for article_id, url in found.aliases:
            articles.add_alias(
                conn, article_id, self.canonicalize(url), self.key(url), reason="site_id", seen_at=seen_at
            )
        return (
            frontier.add_urls(conn, found.urls, canonicalize=self.canonicalize, now=now) if found.urls else 0
        )

    def known_before(self, urls: Iterable[str], at: datetime) -> set[str]:
        """Those of ``urls`` the archive held before ``at`` (in the frontier, or as an alias of a
        stored article): what "already known" means to a discovery that began at ``at``. Raises
        ``StoreError``."""
        keys = {url: self.key(url) for url in urls}
        known = self._read(lambda c: frontier.known_before(c, set(keys.values()), aware(at)))
        return {url for url, key in keys.items() if key in known}

    def _apart(self, conn: Any, found: Discoveries) -> Discoveries:
        """URLs whose site id is a stored article's become its aliases (another address of it), the
        rest stay for the frontier: one read, in the caller's transaction."""
        ids = sorted({i for i in found.site_ids if i})
        known = articles.by_site_ids(conn, ids) if ids else {}
        fresh: list[NewUrl] = []
        aliases = list(found.aliases)
        for item, site_id in zip(found.urls, found.site_ids, strict=True):
            hit = known.get(site_id or "")
            if hit is None:
                fresh.append(item)
            elif hit[1] != self.key(item.url):  # the article's own URL is neither new nor an alias
                aliases.append((hit[0], item.url))
        return Discoveries(tuple(fresh), tuple(aliases))

    def claim_due(
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
        """Lease up to ``limit`` due URLs to ``worker`` for ``lease_s`` seconds (state "fetching");
        ``priorities``: only URLs of a priority in that band, inclusive (see ``crawl.schedule``).

        A URL whose lease ran out (its worker died) is due again; that dead claim counts as an
        attempt, and with ``max_attempts`` a URL that has had them all is parked "failed". ``published_between`` keeps only
        URLs whose publication date (from the path) is known and within the range, inclusive.
        """
        return self._write(
            lambda c: frontier.claim_due(
                c,
                limit=limit,
                now=now,
                lease_s=lease_s,
                worker=worker,
                kinds=kinds,
                published_between=published_between,
                max_attempts=max_attempts,
                priorities=priorities,
            ),
            what="claim_due",
        )

    def record_fetch(
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
        """Record one HTTP exchange; its fetch id. Replaying the same (URL, fetched_at) returns the
        same id and adds no row."""
        values = {
            "status": status,
            "fetched_at": aware(fetched_at),
            "warc_file": warc_file,
            "warc_offset": warc_offset,
            "warc_length": warc_length,
            "payload_digest": payload_digest,
            "error": error,
            "elapsed_s": elapsed_s,
            "run_id": run_id,
        }
        return self._write(lambda c: frontier.record_fetch(c, url_id, values), what="record_fetch")

    def finish_url(
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
        """End the lease of ``url_id``: "done" (fetched; ``next_due_at`` = next revisit or None),
        "retry" (transient failure; attempts + 1; ``next_due_at`` set), "failed", "not_article",
        "gone", "refused", or back to "new". Validators given as None keep their stored value;
        ``error`` replaces the last error (None clears it). ``alias_of`` = (article id, url, seen
        at): the URL redirected to that article; ``add_alias(reason="redirect")`` in the same
        transaction. ``priority`` (the claim priority of the next check) and ``published_at`` (what
        the checks are scheduled from) given as None keep their stored value. Raises ``ValueError``
        for an unknown state, ``KeyError`` for an unknown id."""
        fields = {
            "error": error,
            "last_status": status,
            "etag": etag,
            "last_modified": last_modified,
            "payload_digest": payload_digest,
            "priority": priority,
            "published_at": None if published_at is None else aware(published_at),
        }
        now = utcnow()

        def work(c: Any) -> None:
            if alias_of is not None:
                article_id, url, seen_at = alias_of
                articles.add_alias(c, article_id, self.canonicalize(url), self.key(url), reason="redirect",
                                   seen_at=aware(seen_at))  # fmt: skip
            frontier.finish_url(c, url_id, state=state, next_due_at=next_due_at, now=now,
                                reset_attempts=reset_attempts, fields=dict(fields))  # fmt: skip

        self._write(work, what="finish_url")

    def frontier_counts(self) -> dict[str, int]:
        """URLs per state, every state listed (zeros included)."""
        return self._read(frontier.counts)

    # --- articles ------------------------------------------------------------------------------

    def store_article(
        self, article: Article, *, url_id: int | None, fetch_id: int | None, seen_at: datetime
    ) -> StoreOutcome:
        """Deduplicate and store ``article`` seen at ``seen_at``.

        Ladder: canonical URL (or a recorded alias) → ``site_id`` → hash of ``normalized_text`` →
        SimHash near-duplicate (banded index, Hamming ≤ ``dedup.simhash_max_distance``; texts
        shorter than ``dedup.min_chars`` are never near-matched). Outcomes:

        - "new": a new article row, version 1;
        - "unchanged": same title and body as a stored version (only the seen times move);
        - "changed": a new title or body: a new version row, the old ones kept (see ``diff``);
        - "duplicate": the text is already stored under another URL: the URL becomes an alias of
          ``duplicate_of``. An exact copy without a site id of its own (a mirror page) adds no
          article row; a near-duplicate, or an exact copy with another site id (a syndicated copy),
          keeps its own text in its own row (``article_id``), marked ``duplicate_of`` the original.

        The original of a group is the article published first, then the one with the lowest site
        id (``canonical``): when it arrives after a copy, it takes over in the same transaction
        ("new": the copy becomes its duplicate, the group's copies and dedup aliases follow).

        Idempotent under replay in any order; concurrent writers of the same article converge on
        one row. Raises ``StoreError``.
        """
        aware(seen_at)
        fps = dedup.fingerprints(article, self.dedup)
        created: dict[str, int] = {}

        def work(c: Any) -> StoreOutcome:
            created.clear()  # a rerun starts over: what the rolled-back attempt created is gone
            return articles.store(c, article, canonicalize=self.canonicalize, settings=self.dedup, url_id=url_id,
                                  fetch_id=fetch_id, seen_at=seen_at, fps=fps, people_known=self.people,
                                  people_created=created)  # fmt: skip

        outcome = self._write(work, what=f"store_article {article.url}", snapshot=True)
        self.people.remember(created)  # committed: the ids are the rows'
        return outcome

    def article_for_url(self, url: str) -> int | None:
        """The article stored under ``url``, as its own URL or as an alias; None when unknown."""
        key = self.key(url)
        return self._read(lambda c: articles.article_for_key(c, key))

    def add_alias(self, article_id: int, url: str, *, reason: str, seen_at: datetime) -> bool:
        """``url`` is another address of the article (it redirected there); True when newly recorded."""
        canon, key = self.canonicalize(url), self.key(url)
        return self._write(
            lambda c: articles.add_alias(c, article_id, canon, key, reason=reason, seen_at=aware(seen_at)),
            what="add_alias",
        )

    def store_fetched(
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
        """``record_fetch`` + ``store_article`` + ``finish_url(state="done")`` in one transaction,
        and ``add_discoveries(found)`` (links of the page) in the same: the common path of the
        crawl, one commit instead of four. ``fetch`` holds the keyword arguments of
        ``record_fetch``; the article counts as seen at ``fetch["fetched_at"]``. ``priority`` and
        ``published_at`` as in ``finish_url``."""
        seen_at = aware(fetch["fetched_at"])
        values = {**fetch, "fetched_at": seen_at}
        fields = {"error": None, "last_status": fetch.get("status"), "etag": etag, "last_modified": last_modified,
                  "payload_digest": fetch.get("payload_digest"), "priority": priority,
                  "published_at": None if published_at is None else aware(published_at)}  # fmt: skip
        now = utcnow()
        fps = dedup.fingerprints(article, self.dedup)  # outside the transaction: SQLite's lock is held less
        created: dict[str, int] = {}

        def work(c: Any) -> StoreOutcome:
            created.clear()  # a rerun starts over: what the rolled-back attempt created is gone
            fetch_id = frontier.insert_fetch(c, url_id, dict(values))
            outcome = articles.store(c, article, canonicalize=self.canonicalize, settings=self.dedup, url_id=url_id,
                                     fetch_id=fetch_id, seen_at=seen_at, link_url=False, fps=fps,
                                     people_known=self.people, people_created=created)  # fmt: skip
            # one UPDATE of the URL row: its state, validators, last fetch and article
            frontier.finish_url(c, url_id, state="done", next_due_at=next_due_at, now=now, reset_attempts=True,
                                fields={**fields, "article_id": outcome.article_id}, fetched_at=seen_at)  # fmt: skip
            if found is not None:
                return dataclasses.replace(outcome, new_urls=self._discoveries(c, found, seen_at, now))
            return outcome

        outcome = self._write(work, what="store_fetched", snapshot=True)
        self.people.remember(created)  # committed: the ids are the rows'
        return outcome

    def mark_gone(self, url: str, at: datetime) -> bool:
        """The page at ``url`` answered 404/410: flag its article gone (never deleted), and the URL
        "gone". True when an article was found."""
        key = self.key(url)
        return self._write(lambda c: articles.mark_gone(c, key, aware(at)), what="mark_gone")

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """Every version of an article, oldest first (version, title, body_text, first/last seen)."""
        return self._read(lambda c: articles.versions(c, article_id))

    def diff(self, article_id: int, old: int | None = None, new: int | None = None) -> str:
        """Unified diff between two versions (default: previous → current); '' for one version."""
        return self._read(lambda c: articles.diff(c, article_id, old, new))

    # --- politeness shared by every process (see ``budget``) ------------------------------------

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
    ) -> budget.Grant:
        """May requests to ``host`` start now? A ``Grant`` with a batch of starts (``span_s`` of
        them, at least one) and its places in flight, or how long to wait (see ``budget.reserve``)."""
        return self._write(lambda c: budget.reserve(c, host, clock=time.time, interval=interval,
                           concurrency=concurrency, holder=holder, lease_s=lease_s, span_s=span_s,
                           places=places, claim=claim), what="reserve_request")  # fmt: skip

    def release_request(self, token: int) -> None:
        """The request of ``token`` ended: its place in flight is free."""
        self._write(lambda c: budget.release(c, token), what="release_request")

    def end_requests(self, host: str, tokens: tuple[int, ...], *, end: float, resume_at: float) -> None:
        """A batch of starts to ``host`` is over: its places ``tokens`` are free, and the starts it did
        not use (from ``resume_at`` to ``end``) go back to the host (see ``budget.finish``)."""
        self._write(lambda c: budget.finish(c, host, tokens, end=end, resume_at=resume_at),
                    what="end_requests")  # fmt: skip

    def hold_host(self, host: str, *, until: float, reason: str) -> None:
        """No process sends ``host`` a request before ``until`` (epoch seconds)."""
        self._write(lambda c: budget.hold(c, host, until=until, reason=reason), what="hold_host")

    def set_crawl_delay(self, host: str, delay: float) -> None:
        """robots.txt's Crawl-delay of ``host``, for every process."""
        self._write(lambda c: budget.set_crawl_delay(c, host, delay), what="set_crawl_delay")

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, kind: str, params: dict[str, Any]) -> int:
        """A new run in status "running"; its id."""
        now = utcnow()
        return self._write(lambda c: runs.start(c, kind, params, now), what="start_run")

    def update_run(
        self, run_id: int, counters: dict[str, int], *, params: dict[str, Any] | None = None
    ) -> None:
        """Merge ``counters`` into the run's counters, and ``params`` into its parameters (keys
        given overwrite: a backfill keeps where its discovery stands there)."""
        now = utcnow()
        self._write(lambda c: runs.update_counters(c, run_id, counters, now, params=params),
                 what="update_run")  # fmt: skip

    def finish_run(
        self, run_id: int, *, status: str, counters: dict[str, int], error: str | None = None
    ) -> None:
        """Close a run: final counters merged, ``status`` one of ``runs.RUN_STATUSES``."""
        if status not in runs.RUN_STATUSES:
            raise ValueError(f"unknown run status {status!r}; expected one of {runs.RUN_STATUSES}")
        now = utcnow()

        def work(c: Any) -> None:
            runs.update_counters(c, run_id, counters, now, status=status, error=error, finished_at=now)

        self._write(work, what="finish_run")

    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        return self._read(lambda c: runs.last(c, n))

    def last_success(self, kind: str) -> datetime | None:
        """When the last run of ``kind`` ("cycle", "backfill") that ended "ok" finished."""
        return self._read(lambda c: runs.last_success(c, kind))

    def interrupt_running(self) -> int:
        """Mark runs left "running" by a process that died as "interrupted"; how many."""

        def work(c: Any) -> int:
            result = c.execute(
                update(runs_table)
                .where(runs_table.c.status == "running")
                .values(status="interrupted", finished_at=utcnow())
            )
            return int(result.rowcount)

        return self._write(work, what="interrupt_running")

    # --- reading ---------------------------------------------------------------------------------

    def iter_export(
        self, *, since: date | None, until: date | None, page: int = export.PAGE
    ) -> Iterator[dict[str, Any]]:
        """Export rows (``export.EXPORT_FIELDS``), by article id, in constant memory (``page``
        articles per read). ``since`` / ``until`` filter on the publication date (inclusive);
        undated articles only without them."""
        return self._paged(
            lambda c, after: export.read_page(c, since=since, until=until, after=after, page=page)
        )

    def _paged(self, read_page: Callable[..., tuple[list[T], int | None]], after: int = 0) -> Iterator[T]:
        """The items of ``read_page`` page after page (keyset: each page read after the id the last
        one ended at), each page on a connection of its own: no transaction stays open between
        pages, so a long read never holds a PostgreSQL snapshot or blocks SQLite's checkpoints."""
        next_after: int | None = after
        while next_after is not None:
            items, next_after = self._read(functools.partial(read_page, after=next_after))
            yield from items

    def stats(self) -> dict[str, Any]:
        """Counts (articles, versions, duplicates, gone), field fill rates, frontier states, last
        runs, frequent errors; the database URL with its password redacted."""
        return self._read(stats.collect)

    def reader(self) -> browse.Reader:
        """The read-only queries of the archive view on the same database."""
        return browse.Reader(self.engine, canonicalize=self.canonicalize)

    def read_only(self) -> bool:
        """Whether the database only allows reading (``db.is_read_only``: asked of the database)."""
        return self._read(is_read_only)

    # --- search ----------------------------------------------------------------------------------

    def search(
        self,
        query: str | None = None,
        *,
        since: date | None = None,
        until: date | None = None,
        credits: Mapping[str, str] | None = None,
        limit: int = 20,
    ) -> list[SearchHit]:
        """Articles whose current title or body contains every space-separated term of ``query``
        (best match first, then newest), or, without a query, all articles matching the filters
        (newest first). ``credits`` maps a role of ``model.CREDIT_ROLES`` ("reporters",
        "photographers", "editors", …) to a name or part of one; ``since``/``until`` filter on the
        publication date, inclusive. The index is brought up to date first, unless the database is
        read-only (then what is indexed is searched). Raises ``ValueError`` for bad options (no
        query and no credit filter, a reversed range, an unknown role, a limit out of 1..1000),
        ``StoreError``."""
        q = SearchQuery.build(query, since=since, until=until, credits=credits, limit=limit)
        if not self.read_only():
            self.refresh_search()
        return self._read(lambda c: search.search(c, q))

    def refresh_search(self) -> int:
        """Index the articles stored or changed since the last refresh (``store_article`` only notes
        them, to keep the write path fast), a batch per transaction; how many documents were
        rewritten. Raises ``StoreError``."""
        rewritten = 0
        while True:
            taken, done = self._write(search.refresh_batch, what="search refresh")
            rewritten += done
            if taken == 0:
                return rewritten

    def reindex(self, *, batch: int = REINDEX_BATCH) -> int:
        """Rebuild the search index from the current versions, ``batch`` articles per transaction
        (constant memory, the daemon may keep writing); how many documents it holds. Raises
        ``StoreError``."""
        total, last = 0, 0
        while True:
            written, last_id = self._write(
                functools.partial(search.reindex_batch, after=last, batch=batch), what="reindex"
            )
            if last_id is None:
                break
            total, last = total + written, last_id
        self._write(functools.partial(search.finish_reindex, last=last), what="reindex")
        return total

    # --- leases and the scheduler lock -----------------------------------------------------------

    def leased_workers(self) -> list[str]:
        """The workers (``host:pid``) that hold a lease on at least one URL."""
        return self._read(leases.leased_workers)

    def release_leases(self, workers: Collection[str], *, max_attempts: int | None = None) -> int:
        """Make the URLs leased by ``workers`` due again; how many (see ``leases.release_leases``:
        with ``max_attempts`` the workers are dead and their claims count as attempts)."""
        if not workers:
            return 0
        now = utcnow()
        return self._write(
            lambda c: leases.release_leases(c, workers, now=now, max_attempts=max_attempts),
            what="release_leases",
        )

    def leader_lock(self) -> LeaderLock:
        """The scheduler lock of this database (one daemon schedules; the others stand by)."""
        return LeaderLock(self.engine)

    # --- recheck ---------------------------------------------------------------------------------

    def count_recheck(self, rng: recheck.RecheckRange) -> int:
        """How many URLs ``mark_recheck`` would make due (one per stored article of the range)."""
        return self._read(lambda conn: recheck.count(conn, rng))

    def mark_recheck(self, rng: recheck.RecheckRange, *, priority: int, now: datetime) -> int:
        """Make the URLs of the articles of ``rng`` due at ``now`` with claim ``priority``, a batch
        per transaction (the daemon keeps writing meanwhile); how many. Idempotent."""
        total, after = 0, 0

        def batch(c: Connection, after_id: int) -> tuple[int, int]:
            return recheck.mark_batch(c, rng, priority=priority, now=aware(now), after_id=after_id)

        while True:
            n, after = self._write(functools.partial(batch, after_id=after), what="mark_recheck")
            total += n
            if not after:
                return total

    def unfinished_recheck(self, *, priority: int, since: datetime) -> int:
        """URLs of a recheck (claim ``priority``) whose check failed since ``since`` (a retry
        pending, or parked as failed)."""
        return self._read(lambda conn: recheck.unfinished(conn, priority=priority, since=aware(since)))

    def came_back(self, article_id: int) -> bool:
        """The article answered again after it was marked gone: no longer gone. Whether it was."""
        return self._write(lambda c: recheck.came_back(c, article_id), what="came_back")

    # --- reparse -----------------------------------------------------------------------------------

    def count_reparse_sources(self, *, since: date | None, until: date | None, after_id: int = 0) -> int:
        """Articles (not near-duplicate copies) published in the range, after ``after_id``."""
        return self._read(lambda c: reparse.count(c, since=since, until=until, after_id=after_id))

    def count_refused(self, *, since: date | None, until: date | None, after_id: int = 0) -> int:
        """URLs refused as not articles, dated in the range by their path, after ``after_id``."""
        return self._read(lambda c: reparse.count_refused(c, since=since, until=until, after_id=after_id))

    def reparse_sources(
        self, *, since: date | None, until: date | None, after_id: int = 0
    ) -> Iterator[ReparseSource]:
        """Stored articles with their archived fetches, by id, after ``after_id``, streamed."""
        return self._paged(functools.partial(reparse.sources_page, since=since, until=until), after_id)

    def refused_sources(
        self, *, since: date | None, until: date | None, after_id: int = 0
    ) -> Iterator[ReparseSource]:
        """URLs refused as not articles with their archived fetches, by id, after ``after_id``."""
        return self._paged(functools.partial(reparse.refused_page, since=since, until=until), after_id)

    def write_reparsed(self, items: Sequence[Reparsed]) -> list[StoreOutcome]:
        """Re-extracted articles stored in one transaction; their outcomes in order."""
        if not items:
            return []
        now = utcnow()
        return self._write(
            lambda c: reparse.write(c, items, canonicalize=self.canonicalize, settings=self.dedup, now=now),
            what=f"reparse write of {len(items)} articles",
            snapshot=True,
        )

    def requeue_refused(self, items: Sequence[tuple[int, str]]) -> None:
        """Refused URLs back in the frontier, due now: (URL id, why) each."""
        if items:
            now = utcnow()
            self._write(lambda c: reparse.requeue(c, items, now=now), what="reparse requeue")
