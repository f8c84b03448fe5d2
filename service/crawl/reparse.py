"""``jinshan reparse``: today's extractor over the archived responses, without fetching anything.

Two passes, each in id order:

1. every stored article (not near-duplicate copies): the newest archived 2xx response of its URL,
   with the further pages of a split article, is extracted again; where title or body differ from
   the current version the store makes a new version (an unchanged article is not written at all);
2. every URL refused as not an article: its archived response is extracted again, and an article
   the extractor now accepts is stored as the crawl would have stored it (dedup, versions,
   aliases; the URL "done") and counted ``recovered``; one still refused is counted
   ``still_refused``; one whose response is not in the archive is put back in the frontier, due
   now, and counted ``requeued``.

Extraction runs in a pool of processes (``reextract.Reextractor``); this process writes the results
in one transaction per chunk. Progress is saved in the run record, so an interrupted reparse
resumes after the last chunk it wrote; a finished one, run again, writes nothing new.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from service.crawl.reextract import Broken, Extracted, Missing, Outcome, Reextractor, Refused, Same
from service.crawl.schedule import next_check
from service.settings import Settings
from service.store import Reparsed, ReparseSource, Store

log = logging.getLogger(__name__)

#: progress is written to the run record at least every this many items
SAVE_EVERY = 100
#: the counters a reparse reports, in the order it prints them
COUNTS = ("unchanged", "changed", "failed", "recovered", "still_refused", "requeued")


@dataclass
class ReparseProgress:
    """``last_id``: the last article finished; ``last_url_id``: the last refused URL finished;
    ``articles_done``: the first pass is over."""

    total: int
    counts: Counter[str]
    last_id: int = 0
    last_url_id: int = 0
    articles_done: bool = False


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resume_point(store: Store, params: Mapping[str, object]) -> ReparseProgress:
    """Where the newest unfinished reparse with the same range stopped (counts start over)."""
    for run in store.last_runs(20):
        if run.get("kind") != "reparse" or run.get("params") != params:
            continue
        if run.get("status") == "ok":
            break
        c = run.get("counters") or {}
        return ReparseProgress(0, Counter(), int(c.get("last_article_id", 0)), int(c.get("last_url_id", 0)),
                               bool(c.get("articles_done", 0)))  # fmt: skip
    return ReparseProgress(0, Counter())


def reparse(
    settings: Settings,
    store: Store,
    *,
    since: date | None,
    until: date | None,
    workers: int | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[ReparseProgress], None] | None = None,
) -> ReparseProgress:
    """Re-extract the archive in the range (publication date, inclusive) with ``workers`` processes
    (default: one per core). Returns the progress with its counts (``COUNTS``). Raises ``StoreError``
    when the database cannot be written (the run is recorded as failed and can be resumed)."""
    params = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    progress = resume_point(store, params)
    if progress.last_id or progress.last_url_id:
        log.info("resuming after article %d, refused URL %d", progress.last_id, progress.last_url_id)
    run_id = store.start_run("reparse", params)
    work = _Pass(settings, store, progress, run_id, should_stop, on_progress)
    progress.total = store.count_refused(since=since, until=until, after_id=progress.last_url_id)
    if not progress.articles_done:
        progress.total += store.count_reparse_sources(since=since, until=until, after_id=progress.last_id)
    status = "ok"
    try:
        with Reextractor(settings, workers=workers or default_workers()) as pool:
            if not progress.articles_done:
                found = store.reparse_sources(since=since, until=until, after_id=progress.last_id)
                progress.articles_done = work.run(pool, found)
            if progress.articles_done:
                found = store.refused_sources(since=since, until=until, after_id=progress.last_url_id)
                status = "ok" if work.run(pool, found) else "interrupted"
            else:
                status = "interrupted"
    except BaseException:
        store.finish_run(run_id, status="failed", counters=_counters(progress))
        raise
    store.refresh_search()
    store.finish_run(run_id, status=status, counters=_counters(progress))
    return progress


def _counters(progress: ReparseProgress) -> dict[str, int]:
    return {**dict.fromkeys(COUNTS, 0), **progress.counts, "last_article_id": progress.last_id,
            "last_url_id": progress.last_url_id, "articles_done": int(progress.articles_done)}  # fmt: skip


@dataclass
class _Pass:
    """One pass over a stream of sources: outcomes in, writes and counts out, a chunk at a time."""

    settings: Settings
    store: Store
    progress: ReparseProgress
    run_id: int
    should_stop: Callable[[], bool]
    on_progress: Callable[[ReparseProgress], None] | None
    saved_at: int = 0

    def run(self, pool: Reextractor, found: Iterable[ReparseSource]) -> bool:
        """Work through ``found``; False when stopped before the end."""
        for chunk in pool.chunks(found):
            if self.should_stop():
                return False
            self._chunk(chunk)
        return True

    def _chunk(self, chunk: list[tuple[ReparseSource, Outcome]]) -> None:
        writes: list[Reparsed] = []
        requeue: list[tuple[int, str]] = []
        counts = self.progress.counts
        now = datetime.now(UTC)
        for source, outcome in chunk:
            decided = self._decide(source, outcome, now)
            if isinstance(decided, Reparsed):
                writes.append(decided)
            elif decided == "requeued":
                assert isinstance(outcome, Missing)
                requeue.append((source.id, outcome.detail))
                counts[decided] += 1
            else:
                counts[decided] += 1
        stored = self.store.write_reparsed(writes)
        for item, result in zip(writes, stored, strict=True):
            counts[
                "recovered" if item.recover else "changed" if result.kind == "changed" else "unchanged"
            ] += 1
        self.store.requeue_refused(requeue)
        last = chunk[-1][0]
        if last.refused:
            self.progress.last_url_id = last.id
        else:
            self.progress.last_id = last.id
        if self.on_progress:
            self.on_progress(self.progress)
        done = sum(counts.values())
        if done - self.saved_at >= SAVE_EVERY:
            self.saved_at = done
            self.store.update_run(self.run_id, _counters(self.progress))

    def _decide(self, source: ReparseSource, outcome: Outcome, now: datetime) -> Reparsed | str:
        """What to do with one outcome: an article to write, or the word to count."""
        what = f"refused URL {source.id}" if source.refused else f"article {source.id}"
        if isinstance(outcome, Same):
            return "unchanged"  # the store would only widen the current version's seen times
        if isinstance(outcome, Extracted):
            return self._recovered(source, outcome, now) if source.refused else self._again(source, outcome)
        if isinstance(outcome, Refused):
            if source.refused:
                return "still_refused"
            log.warning("%s (%s) no longer extracts: not an article (%s)", what, source.url, outcome.reason)
            return "failed"
        if isinstance(outcome, Missing):
            log.warning("%s (%s): %s", what, source.url, outcome.detail)
            return "requeued" if source.refused else "failed"
        assert isinstance(outcome, Broken)
        log.error("%s (%s): the extractor failed: %s", what, source.url, outcome.detail)
        return "failed"

    def _again(self, source: ReparseSource, outcome: Extracted) -> Reparsed:
        fetch = outcome.fetch
        # the store makes the most recently seen version current: a re-extraction must supersede the
        # version it re-extracts, so it counts as seen just after the latest sighting (strictly after:
        # ties between versions are broken by hash)
        latest = max(fetch.fetched_at, source.last_seen_at or fetch.fetched_at) + timedelta(microseconds=1)
        return Reparsed(outcome.article, outcome.fps, fetch.url_id, fetch.fetch_id, latest)

    def _recovered(self, source: ReparseSource, outcome: Extracted, now: datetime) -> Reparsed:
        fetch, article = outcome.fetch, outcome.article
        moved = self.store.key(source.url) != self.store.key(article.url)
        check = next_check(
            article.published_at or fetch.fetched_at,
            now,
            self.settings.schedule,
            url_id=fetch.url_id,
            entering=True,
        )
        return Reparsed(article, outcome.fps, fetch.url_id, fetch.fetch_id, fetch.fetched_at, recover=True,
                        next_due_at=check.due_at if check else None, next_priority=check.priority if check else 0,
                        alias=source.url if moved else None)  # fmt: skip
