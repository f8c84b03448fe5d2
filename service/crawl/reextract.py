"""Re-extraction of archived responses for ``jinshan reparse``: WARC records in, ``Article`` out.

Pure apart from reading the WARC files: no database, no network, so it runs in worker processes.
``reextract`` handles one source (a stored article or a refused URL with its archived fetches);
``Reextractor`` maps a stream of sources over a pool of processes, in order, with a bounded number
of chunks in flight, so the parent keeps writing while the workers extract and memory stays flat.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TypeAlias

from service.crawl.pages import Page, complete, read_article
from service.errors import NotAnArticle
from service.fetch.archive import ArchivedResponse, ArchiveError, read_response
from service.model import Article
from service.settings import Settings
from service.site.urls import canonical_url, url_key
from service.store import ArchivedFetch, Fingerprints, ReparseSource, fingerprints, version_hash

log = logging.getLogger(__name__)

#: sources per task sent to a worker: large enough that the round trip is amortised
CHUNK = 25
#: chunks in flight per worker: the workers never wait for the parent's writes, memory stays bounded
AHEAD = 4


@dataclass(frozen=True, slots=True)
class Extracted:
    """The archived response extracts as ``article``; ``fetch`` is the fetch of its first page,
    ``url`` the address that response came from."""

    article: Article
    fps: Fingerprints
    fetch: ArchivedFetch
    url: str


@dataclass(frozen=True, slots=True)
class Same:
    """The article extracts with the title and body of its current version: nothing to write (the
    article itself is not sent back, which keeps the common case of a reparse cheap)."""


@dataclass(frozen=True, slots=True)
class Refused:
    """The archived response is still not an article."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Missing:
    """The archive does not hold what is needed (no response, a further page, a readable record)."""

    detail: str


@dataclass(frozen=True, slots=True)
class Broken:
    """The extractor raised something else: a bug, counted and logged, never fatal to the run."""

    detail: str


Outcome: TypeAlias = Extracted | Same | Refused | Missing | Broken


def reextract(settings: Settings, source: ReparseSource) -> Outcome:
    """What today's extractor makes of the newest archived response of ``source``: ``Same`` when
    title and body are those of ``source.version_hash``."""
    try:
        return _reextract(settings, source)
    except NotAnArticle as exc:
        return Refused(exc.reason, exc.detail)
    except ArchiveError as exc:
        return Missing(str(exc))
    except Exception as exc:  # one bad page never stops a job
        log.exception("re-extracting %s", source.url)
        return Broken(f"{type(exc).__name__}: {exc}")


def _reextract(settings: Settings, source: ReparseSource) -> Outcome:
    records = _Records(settings, source.fetches)
    first = records.find(source.url) or records.first()
    if first is None:
        return Missing("no archived response")
    fetch, response = first
    joined = complete(
        read_article(_page(response), records, settings.profile, fetched_on=fetch.fetched_at.date())
    )
    if source.version_hash is not None and version_hash(joined) == source.version_hash:
        return Same()
    return Extracted(joined, fingerprints(joined, settings.dedup), fetch, response.url)


def _page(response: ArchivedResponse) -> Page:
    ctype = next((v for k, v in response.headers if k.lower() == "content-type"), None)
    return Page(response.url, response.body, ctype)


_Found: TypeAlias = tuple[ArchivedFetch, ArchivedResponse]


class _Records:
    """The full response records of a source's fetches (revisits carry no body), newest first,
    read from the WARC files only as far as a lookup needs (usually the newest one alone)."""

    def __init__(self, settings: Settings, fetches: tuple[ArchivedFetch, ...]) -> None:
        self.settings = settings
        self.directory = Path(settings.archive.path)
        self.pending = iter(fetches)
        self.read: list[tuple[str, _Found]] = []

    def _next(self) -> tuple[str, _Found] | None:
        for fetch in self.pending:
            record = read_response(self.directory / fetch.warc_file, fetch.warc_offset)
            if record.record_type == "response" and record.body:
                self.read.append((_key(self.settings, record.url), (fetch, record)))
                return self.read[-1]
        return None

    def find(self, url: str) -> _Found | None:
        """The newest full response from ``url`` (page numbers kept apart), or None."""
        key = _key(self.settings, url)
        for k, found in self.read:
            if k == key:
                return found
        while (more := self._next()) is not None:
            if more[0] == key:
                return more[1]
        return None

    async def page(self, url: str) -> Page:
        """A further page of the article, as a ``PageSource`` (it answers at once: see ``complete``)."""
        found = self.find(url)
        if found is None:
            raise ArchiveError(f"page {url} is not in the archive")
        return _page(found[1])

    def first(self) -> _Found | None:
        """The newest full response of all, whatever its URL (the article's moved, say)."""
        return self.read[0][1] if self.read else (None if (more := self._next()) is None else more[1])


def _key(settings: Settings, url: str) -> str:
    """URL identity that keeps page numbers apart (page 2 of a split article is not page 1 here: no
    URL shapes given to ``canonical_url``)."""
    site = settings.site
    return url_key(canonical_url(url, host_aliases=site.host_aliases, drop_params=site.drop_query_params))


# --- the pool ------------------------------------------------------------------------------------

_worker_settings: Settings | None = None


def _init_worker(settings: Settings) -> None:
    global _worker_settings
    # Ctrl-C reaches the whole process group: the parent decides when to stop, the workers are ended
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_settings = settings


def _work(chunk: list[ReparseSource]) -> list[Outcome]:
    if _worker_settings is None:
        raise RuntimeError("reextract worker used before its settings were set")
    return [reextract(_worker_settings, source) for source in chunk]


class Reextractor:
    """``reextract`` over a stream of sources, in ``workers`` processes (in this one when 1).

    Used as a context manager; ``chunks`` yields (source, outcome) lists in the order of the
    sources. Workers are forked: they inherit the settings and never touch the parent's database
    connections (they read WARC files only). A worker that dies raises ``BrokenProcessPool`` here.
    """

    def __init__(self, settings: Settings, *, workers: int) -> None:
        self.settings = settings
        self.workers = max(1, workers)
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Reextractor:
        if self.workers > 1:
            context = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_init_worker, initargs=(self.settings,)
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            # chunks not started are dropped (the parent resumes after what it wrote); the few in
            # progress finish, which takes a fraction of a second
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def chunks(self, sources: Iterable[ReparseSource]) -> Iterator[list[tuple[ReparseSource, Outcome]]]:
        it = iter(sources)
        batches = iter(lambda: list(islice(it, CHUNK)), [])
        if self.pool is None:
            for batch in batches:
                yield [(s, reextract(self.settings, s)) for s in batch]
            return
        pending: deque[tuple[list[ReparseSource], Future[list[Outcome]]]] = deque()
        for batch in batches:
            pending.append((batch, self.pool.submit(_work, batch)))
            if len(pending) >= AHEAD * self.workers:
                yield _ready(*pending.popleft())
        while pending:
            yield _ready(*pending.popleft())


def _ready(batch: list[ReparseSource], result: Future[list[Outcome]]) -> list[tuple[ReparseSource, Outcome]]:
    return list(zip(batch, result.result(), strict=True))
