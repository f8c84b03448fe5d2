"""``jinshan reparse``: today's extractor over the archived responses, without fetching anything.

For each stored article (oldest id first) the newest archived 2xx response of its URL is read back
from the WARC files, with the further pages of a split article, extracted, and handed to the store,
which makes a new version only where the extracted article changed. Progress is saved in the run
record, so an interrupted reparse resumes after the last article it finished.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from service.config import Settings
from service.errors import JinshanError, NotAnArticle
from service.extract import extract_article, join_parts
from service.fetch.archive import ArchivedResponse, ArchiveError, read_response
from service.model import Article
from service.store import reparse as sources_of
from service.store.reparse import ArchivedFetch, ReparseSource
from service.store.repo import Store
from service.urls import canonical_url, url_key

log = logging.getLogger(__name__)

#: progress is written to the run record every this many articles
SAVE_EVERY = 100


@dataclass
class ReparseProgress:
    total: int
    counts: Counter[str]
    last_id: int = 0


class _Missing(JinshanError):
    """No archived response holds this article (archiving was off, or the WARC file is gone)."""


def resume_point(store: Store, params: Mapping[str, object]) -> int:
    """The last article id of the newest unfinished reparse with the same range, else 0."""
    for run in store.last_runs(20):
        if run.get("kind") != "reparse" or run.get("params") != params:
            continue
        if run.get("status") == "ok":
            return 0
        return int((run.get("counters") or {}).get("last_article_id", 0))
    return 0


def reparse(
    settings: Settings,
    store: Store,
    *,
    since: date | None,
    until: date | None,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[ReparseProgress], None] | None = None,
) -> ReparseProgress:
    params = {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
    after = resume_point(store, params)
    run_id = store.start_run("reparse", params)
    progress = ReparseProgress(
        sources_of.count(store.engine, since=since, until=until, after_id=after), Counter(), after
    )
    if after:
        log.info("resuming after article %d", after)
    status = "ok"
    try:
        for source in sources_of.sources(store.engine, since=since, until=until, after_id=after):
            if should_stop():
                status = "interrupted"
                break
            progress.counts[_one(settings, store, source)] += 1
            progress.last_id = source.article_id
            if on_progress:
                on_progress(progress)
            if sum(progress.counts.values()) % SAVE_EVERY == 0:
                store.update_run(run_id, _counters(progress))
    except BaseException:
        store.finish_run(run_id, status="failed", counters=_counters(progress))
        raise
    store.refresh_search()
    store.finish_run(run_id, status=status, counters=_counters(progress))
    return progress


def _counters(progress: ReparseProgress) -> dict[str, int]:
    return {**progress.counts, "last_article_id": progress.last_id}


def _one(settings: Settings, store: Store, source: ReparseSource) -> str:
    try:
        article, fetch = _extract(settings, source)
    except NotAnArticle as exc:
        log.warning(
            "article %d (%s) no longer extracts: not an article (%s)",
            source.article_id,
            source.url,
            exc.reason,
        )
        return "failed"
    except (_Missing, ArchiveError) as exc:
        log.warning("article %d (%s): %s", source.article_id, source.url, exc)
        return "failed"
    # the store makes the most recently seen version current: a re-extraction must supersede the
    # version it re-extracts, so it counts as seen just after the latest sighting
    latest = max([fetch.fetched_at, *(v["last_seen_at"] for v in store.versions(source.article_id))])
    latest += timedelta(microseconds=1)  # strictly after: ties between versions are broken by hash
    outcome = store.store_article(article, url_id=fetch.url_id, fetch_id=fetch.fetch_id, seen_at=latest)
    return "changed" if outcome.kind == "changed" else "unchanged"


def _extract(settings: Settings, source: ReparseSource) -> tuple[Article, ArchivedFetch]:
    directory = Path(settings.archive.path)
    records = _records(directory, source.fetches)
    key = _key(settings, source.url)
    first = next(((f, r) for f, r in records if _key(settings, r.url) == key), None) or next(
        iter(records), None
    )
    if first is None:
        raise _Missing("no archived response")
    fetch, response = first
    profile = settings.profile
    day = fetch.fetched_at.date()
    article = extract_article(
        response.body, response.url, profile=profile, content_type=_ctype(response), fetched_on=day
    )
    parts = []
    for url in article.next_pages:
        part = next((r for _, r in records if _key(settings, r.url) == _key(settings, url)), None)
        if part is None:
            raise _Missing(f"page {url} is not in the archive")
        parts.append(
            extract_article(part.body, part.url, profile=profile, content_type=_ctype(part), fetched_on=day)
        )
    return join_parts(article, parts), fetch


def _records(
    directory: Path, fetches: tuple[ArchivedFetch, ...]
) -> list[tuple[ArchivedFetch, ArchivedResponse]]:
    """The full response records of the fetches (revisit records carry no body), newest first."""
    out = []
    for fetch in fetches:
        record = read_response(directory / fetch.warc_file, fetch.warc_offset)
        if record.record_type == "response" and record.body:
            out.append((fetch, record))
    return out


def _key(settings: Settings, url: str) -> str:
    """URL identity that keeps page numbers apart (``<id>_2.shtml`` is not ``<id>.shtml`` here)."""
    site = settings.site
    return url_key(
        canonical_url(
            url, host_aliases=site.host_aliases, drop_params=site.drop_query_params, strip_page=False
        )
    )


def _ctype(response: ArchivedResponse) -> str | None:
    return next((v for k, v in response.headers if k.lower() == "content-type"), None)
