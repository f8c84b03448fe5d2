"""``Store``: the one object the crawl code holds to read and write the archive.

A thin facade: each method opens one short transaction (writes rerun on a unique-key race, see
``sql.retrying``) and delegates to the module that owns the rows: ``frontier`` (urls, fetches),
``articles`` (dedup, versions, aliases, credits, images), ``search`` (full-text index), ``runs``,
``export``, ``stats``.
Every write is an idempotent upsert, safe to replay and safe with several processes on the same
database. Database errors surface as ``StoreError`` (``sql.translate_errors``: every public method, and the
iterators they return); bad arguments as ``ValueError``. Nothing outside ``service.store`` touches
the engine.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import SQLAlchemyError

from service.errors import StoreError
from service.model import Article
from service.settings import DedupSettings
from service.site.urls import canonical_url, url_key
from service.store import articles, browse, budget, dedup, export, frontier, leases, runs, search, stats
from service.store.db import is_sqlite
from service.store.leader import LeaderLock
from service.store.schema import runs as runs_table
from service.store.search import SearchHit, SearchQuery
from service.store.sql import KeptConnection, aware, retrying, translate_errors, utcnow
from service.store.types import ClaimedUrl, Discoveries, NewUrl, StoreOutcome

__all__ = ["ClaimedUrl", "Discoveries", "NewUrl", "SearchHit", "Store", "StoreOutcome"]

if TYPE_CHECKING:
    from service.store.reparse import Reparsed, ReparseSource


@translate_errors
class Store:
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
        #: where the write transactions run: on SQLite one connection kept for them (``KeptConnection``)
        self.writer: Engine | KeptConnection = KeptConnection(engine) if is_sqlite(engine) else engine
        self.dedup = dedup
        self.canonicalize = canonicalize
        #: person ids by name, read once per process and database (people recur from article to article)
        self.people = articles.KnownPeople()

    def close(self) -> None:
        """Close the database connections (the store is not used after)."""
        if isinstance(self.writer, KeptConnection):
            self.writer.close()
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def key(self, url: str) -> str:
        """The identity of ``url`` in the store (``url_key`` of its canonical form)."""
        return url_key(self.canonicalize(url))

    # --- frontier ------------------------------------------------------------------------------

    def add_urls(self, urls: Iterable[NewUrl]) -> int:
        """Add URLs to the frontier; how many were new. An existing URL keeps its state, but an
        earlier ``due_at`` wins while it is pending (finished URLs, due_at NULL, stay finished)."""
        items = list(urls)
        now = utcnow()
        return retrying(
            self.engine,
            lambda c: frontier.add_urls(c, items, canonicalize=self.canonicalize, now=now),
            what="add_urls",
        )

    def add_discoveries(self, found: Discoveries, *, seen_at: datetime) -> int:
        """URLs and aliases found on one page, in one transaction; how many URLs were new."""
        if not found.urls and not found.aliases:
            return 0
        now = utcnow()
        return retrying(
            self.engine, lambda c: self._discoveries(c, found, aware(seen_at), now), what="add_discoveries"
        )

    def _discoveries(self, conn: Any, found: Discoveries, seen_at: datetime, now: datetime) -> int:
        if found.site_ids:
            found = self._known_apart(conn, found)
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
        try:
            with self.engine.connect() as conn:
                known = frontier.known_before(conn, set(keys.values()), aware(at))
        except SQLAlchemyError as exc:  # the database went away: the caller's guard handles StoreError
            raise StoreError(f"known_before: {exc}") from exc
        return {url for url, key in keys.items() if key in known}

    def _known_apart(self, conn: Any, found: Discoveries) -> Discoveries:
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
    ) -> list[ClaimedUrl]:
        """Lease up to ``limit`` due URLs to ``worker`` for ``lease_s`` seconds (state "fetching").

        A URL whose lease ran out (its worker died) is due again; that dead claim counts as an
        attempt, and with ``max_attempts`` a URL that has had them all is parked "failed". ``published_between`` keeps only
        URLs whose publication date (from the path) is known and within the range, inclusive.
        """
        return retrying(
            self.engine,
            lambda c: frontier.claim_due(
                c,
                limit=limit,
                now=now,
                lease_s=lease_s,
                worker=worker,
                kinds=kinds,
                published_between=published_between,
                max_attempts=max_attempts,
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
        return retrying(self.writer, lambda c: frontier.record_fetch(c, url_id, values), what="record_fetch")

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
    ) -> None:
        """End the lease of ``url_id``: "done" (fetched; ``next_due_at`` = next revisit or None),
        "retry" (transient failure; attempts + 1; ``next_due_at`` set), "failed", "not_article",
        "gone", "refused", or back to "new". Validators given as None keep their stored value;
        ``error`` replaces the last error (None clears it). ``alias_of`` = (article id, url, seen
        at): the URL redirected to that article; ``add_alias(reason="redirect")`` in the same
        transaction. Raises ``ValueError`` for an unknown state, ``KeyError`` for an unknown id."""
        fields = {
            "error": error,
            "last_status": status,
            "etag": etag,
            "last_modified": last_modified,
            "payload_digest": payload_digest,
        }
        now = utcnow()

        def work(c: Any) -> None:
            if alias_of is not None:
                article_id, url, seen_at = alias_of
                articles.add_alias(c, article_id, self.canonicalize(url), self.key(url), reason="redirect",
                                   seen_at=aware(seen_at))  # fmt: skip
            frontier.finish_url(c, url_id, state=state, next_due_at=next_due_at, now=now,
                                reset_attempts=reset_attempts, fields=dict(fields))  # fmt: skip

        retrying(self.writer, work, what="finish_url")

    def frontier_counts(self) -> dict[str, int]:
        """URLs per state, every state listed (zeros included)."""
        with self.engine.connect() as conn:
            return frontier.counts(conn)

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

        outcome = retrying(self.writer, work, what=f"store_article {article.url}", snapshot=True)
        self.people.remember(created)  # committed: the ids are the rows'
        return outcome

    def article_for_url(self, url: str) -> int | None:
        """The article stored under ``url``, as its own URL or as an alias; None when unknown."""
        key = self.key(url)
        with self.engine.connect() as conn:
            return articles.article_for_key(conn, key)

    def add_alias(self, article_id: int, url: str, *, reason: str, seen_at: datetime) -> bool:
        """``url`` is another address of the article (it redirected there); True when newly recorded."""
        canon, key = self.canonicalize(url), self.key(url)
        return retrying(
            self.engine,
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
    ) -> StoreOutcome:
        """``record_fetch`` + ``store_article`` + ``finish_url(state="done")`` in one transaction,
        and ``add_discoveries(found)`` (links of the page) in the same: the common path of the
        crawl, one commit instead of four. ``fetch`` holds the keyword arguments of
        ``record_fetch``; the article counts as seen at ``fetch["fetched_at"]``."""
        seen_at = aware(fetch["fetched_at"])
        values = {**fetch, "fetched_at": seen_at}
        fields = {"error": None, "last_status": fetch.get("status"), "etag": etag, "last_modified": last_modified,
                  "payload_digest": fetch.get("payload_digest")}  # fmt: skip
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

        outcome = retrying(self.writer, work, what="store_fetched", snapshot=True)
        self.people.remember(created)  # committed: the ids are the rows'
        return outcome

    def mark_gone(self, url: str, at: datetime) -> bool:
        """The page at ``url`` answered 404/410: flag its article gone (never deleted), and the URL
        "gone". True when an article was found."""
        key = self.key(url)
        return retrying(self.writer, lambda c: articles.mark_gone(c, key, aware(at)), what="mark_gone")

    def versions(self, article_id: int) -> list[dict[str, Any]]:
        """Every version of an article, oldest first (version, title, body_text, first/last seen)."""
        with self.engine.connect() as conn:
            return articles.versions(conn, article_id)

    def diff(self, article_id: int, old: int | None = None, new: int | None = None) -> str:
        """Unified diff between two versions (default: previous → current); '' for one version."""
        with self.engine.connect() as conn:
            return articles.diff(conn, article_id, old, new)

    # --- politeness shared by every process (see ``budget``) ------------------------------------

    def reserve_request(
        self, host: str, *, interval: float, concurrency: int, holder: str, lease_s: float
    ) -> budget.Grant:
        """May a request to ``host`` start now? A ``Grant`` with its token, or how long to wait."""
        return retrying(self.writer, lambda c: budget.reserve(c, host, clock=time.time, interval=interval,
                        concurrency=concurrency, holder=holder, lease_s=lease_s), what="reserve_request")  # fmt: skip

    def release_request(self, token: int) -> None:
        """The request of ``token`` ended: its place in flight is free."""
        retrying(self.writer, lambda c: budget.release(c, token), what="release_request")

    def hold_host(self, host: str, *, until: float, reason: str) -> None:
        """No process sends ``host`` a request before ``until`` (epoch seconds)."""
        retrying(self.writer, lambda c: budget.hold(c, host, until=until, reason=reason), what="hold_host")

    def set_crawl_delay(self, host: str, delay: float) -> None:
        """robots.txt's Crawl-delay of ``host``, for every process."""
        retrying(self.writer, lambda c: budget.set_crawl_delay(c, host, delay), what="set_crawl_delay")

    # --- runs ------------------------------------------------------------------------------------

    def start_run(self, kind: str, params: dict[str, Any]) -> int:
        """A new run in status "running"; its id."""
        now = utcnow()
        return retrying(self.writer, lambda c: runs.start(c, kind, params, now), what="start_run")

    def update_run(
        self, run_id: int, counters: dict[str, int], *, params: dict[str, Any] | None = None
    ) -> None:
        """Merge ``counters`` into the run's counters, and ``params`` into its parameters (keys
        given overwrite: a backfill keeps where its discovery stands there)."""
        now = utcnow()
        retrying(self.writer, lambda c: runs.update_counters(c, run_id, counters, now, params=params),
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

        retrying(self.writer, work, what="finish_run")

    def last_runs(self, n: int = 5) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return runs.last(conn, n)

    def last_success(self, kind: str) -> datetime | None:
        """When the last run of ``kind`` ("cycle", "backfill") that ended "ok" finished."""
        with self.engine.connect() as conn:
            return runs.last_success(conn, kind)

    def interrupt_running(self) -> int:
        """Mark runs left "running" by a process that died as "interrupted"; how many."""

        def work(c: Any) -> int:
            result = c.execute(
                update(runs_table)
                .where(runs_table.c.status == "running")
                .values(status="interrupted", finished_at=utcnow())
            )
            return int(result.rowcount)

        return retrying(self.writer, work, what="interrupt_running")

    # --- reading ---------------------------------------------------------------------------------

    def iter_export(self, *, since: date | None, until: date | None) -> Iterator[dict[str, Any]]:
        """Export rows (``export.EXPORT_FIELDS``), by article id, in constant memory. ``since`` /
        ``until`` filter on the publication date (inclusive); undated articles only without them."""
        return export.iter_export(self.engine, since=since, until=until)

    def stats(self) -> dict[str, Any]:
        """Counts (articles, versions, duplicates, gone), field fill rates, frontier states, last
        runs, frequent errors; the database URL with its password redacted."""
        return stats.collect(self.engine)

    def reader(self) -> browse.Reader:
        """The read-only queries of the archive view on the same database."""
        return browse.Reader(self.engine, canonicalize=self.canonicalize)

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
        publication date, inclusive. Raises ``ValueError`` for bad options (no query and no credit
        filter, a reversed range, an unknown role, a limit out of 1..1000), ``StoreError``."""
        q = SearchQuery.build(query, since=since, until=until, credits=credits, limit=limit)
        try:
            self.refresh_search()
        except StoreError as exc:  # a read-only database: search what is indexed
            if "readonly" not in str(exc) and "read-only" not in str(exc):
                raise
        try:
            with self.engine.connect() as conn:
                return search.search(conn, q)
        except SQLAlchemyError as exc:
            raise StoreError(f"search: {exc}") from exc

    def refresh_search(self) -> int:
        """Index the articles stored or changed since the last refresh (``store_article`` only notes
        them, to keep the write path fast); how many documents were rewritten. Raises ``StoreError``."""
        try:
            return search.refresh_pending(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"search index refresh: {exc}") from exc

    def reindex(self) -> int:
        """Rebuild the search index from the current versions, in batches (constant memory, the
        daemon may keep writing); how many documents it holds. Raises ``StoreError``."""
        return search.reindex(self.engine)

    # --- leases and the scheduler lock -----------------------------------------------------------

    def leased_workers(self) -> list[str]:
        """The workers (``host:pid``) that hold a lease on at least one URL."""
        return leases.leased_workers(self.engine)

    def release_leases(self, workers: Collection[str], *, max_attempts: int | None = None) -> int:
        """Make the URLs leased by ``workers`` due again; how many (see ``leases.release_leases``:
        with ``max_attempts`` the workers are dead and their claims count as attempts)."""
        return leases.release_leases(self.engine, workers, max_attempts=max_attempts)

    def leader_lock(self) -> LeaderLock:
        """The scheduler lock of this database (one daemon schedules; the others stand by)."""
        return LeaderLock(self.engine)

    # --- reparse -----------------------------------------------------------------------------------

    def count_reparse_sources(self, *, since: date | None, until: date | None, after_id: int = 0) -> int:
        """Articles (not near-duplicate copies) published in the range, after ``after_id``."""
        from service.store import reparse

        return reparse.count(self, since=since, until=until, after_id=after_id)

    def count_refused(self, *, since: date | None, until: date | None, after_id: int = 0) -> int:
        """URLs refused as not articles, dated in the range by their path, after ``after_id``."""
        from service.store import reparse

        return reparse.count_refused(self, since=since, until=until, after_id=after_id)

    def reparse_sources(
        self, *, since: date | None, until: date | None, after_id: int = 0
    ) -> Iterator[ReparseSource]:
        """Stored articles with their archived fetches, by id, after ``after_id``, streamed."""
        from service.store import reparse

        return reparse.sources(self, since=since, until=until, after_id=after_id)

    def refused_sources(
        self, *, since: date | None, until: date | None, after_id: int = 0
    ) -> Iterator[ReparseSource]:
        """URLs refused as not articles with their archived fetches, by id, after ``after_id``."""
        from service.store import reparse

        return reparse.refused(self, since=since, until=until, after_id=after_id)

    def write_reparsed(self, items: Sequence[Reparsed]) -> list[StoreOutcome]:
        """Re-extracted articles stored in one transaction; their outcomes in order."""
        from service.store import reparse

        return reparse.write(self, items)

    def requeue_refused(self, items: Sequence[tuple[int, str]]) -> None:
        """Refused URLs back in the frontier, due now: (URL id, why) each."""
        from service.store import reparse

        reparse.requeue(self, items)
