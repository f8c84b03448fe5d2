"""The captures index (0011): every response and revisit record of the WARC files by URL and time,
and how far each file has been read; and the reads of the archive view that use it and the
resources tables (a photo's record, a photographer's photos, the capture nearest in time).

The index is derived data, read from the files by ``crawl.captures``: rebuilt from the WARC files
at any time, it never holds anything the files do not. Writes are idempotent (a record is keyed by
its file and offset).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.exc import SQLAlchemyError

from service.site.urls import url_key
from service.store import articles as articles_mod
from service.store import resources as resources_mod
from service.store.schema import article_versions, articles, capture_files, captures, credits, images, people
from service.store.sql import aware, insert_ignore_rows, store_error

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Capture:
    """One archived response (or revisit) of a URL: where its record is, when, what came back."""

    url: str
    captured_at: datetime
    status: int | None
    content_type: str | None
    record_type: str
    payload_digest: str | None
    warc_file: str
    warc_offset: int


def indexed_to(conn: Connection) -> dict[str, int]:
    """How far each WARC file has been read into the index (bytes from its start)."""
    return {
        name: int(n)
        for name, n in conn.execute(select(capture_files.c.warc_file, capture_files.c.indexed_to))
    }


def add(conn: Connection, rows: Sequence[dict[str, Any]], *, warc_file: str, read_to: int) -> int:
    """Index ``rows`` (records of ``warc_file``) and note the file read up to ``read_to``; how many
    were new."""
    new = insert_ignore_rows(conn, captures, list(rows), returning=("id",)) if rows else []
    done = conn.execute(
        update(capture_files).where(capture_files.c.warc_file == warc_file).values(indexed_to=read_to)
    )
    if not done.rowcount:
        insert_ignore_rows(conn, capture_files, [{"warc_file": warc_file, "indexed_to": read_to}])
    return len(new)


def _capture(row: Any) -> Capture:
    return Capture(row.url, row.captured_at, row.status, row.content_type, row.record_type, row.payload_digest,
                   row.warc_file, int(row.warc_offset))  # fmt: skip


_COLUMNS = (captures.c.url, captures.c.captured_at, captures.c.status, captures.c.content_type,
            captures.c.record_type, captures.c.payload_digest, captures.c.warc_file, captures.c.warc_offset)  # fmt: skip


def nearest(conn: Connection, keys: Sequence[str], at: datetime | None, *, limit: int = 20) -> list[Capture]:
    """The 2xx captures of ``keys``, nearest to ``at`` first (newest first without ``at``)."""
    q = select(*_COLUMNS).where(
        captures.c.url_key.in_(list(keys)), captures.c.status >= 200, captures.c.status < 300
    )
    if at is None:
        return [_capture(r) for r in conn.execute(q.order_by(captures.c.captured_at.desc()).limit(limit))]
    at = aware(at)
    before = conn.execute(
        q.where(captures.c.captured_at <= at).order_by(captures.c.captured_at.desc()).limit(limit)
    )
    after = conn.execute(q.where(captures.c.captured_at > at).order_by(captures.c.captured_at).limit(limit))
    found = [_capture(r) for r in [*before, *after]]
    return sorted(found, key=lambda c: abs((c.captured_at - at).total_seconds()))[:limit]


def full_record(conn: Connection, digest: str) -> Capture | None:
    """A response record (not a revisit) holding payload ``digest``, under any URL."""
    row = conn.execute(
        select(*_COLUMNS)
        .where(captures.c.payload_digest == digest, captures.c.record_type == "response")
        .order_by(captures.c.captured_at)
        .limit(1)
    ).first()
    return None if row is None else _capture(row)


def html_between(
    conn: Connection, start: datetime | None, end: datetime | None, *, after: int, limit: int
) -> list[tuple[int, Capture]]:
    """The 2xx HTML responses captured in ``start``..``end`` (any page: lists, the home page,
    e-paper pages), by index id after ``after``."""
    q = select(captures.c.id, *_COLUMNS).where(
        captures.c.id > after, captures.c.record_type == "response", captures.c.status >= 200,
        captures.c.status < 300, captures.c.content_type.like("%html%"),
    )  # fmt: skip
    if start is not None:
        q = q.where(captures.c.captured_at >= aware(start))
    if end is not None:
        q = q.where(captures.c.captured_at < aware(end))
    return [(int(r.id), _capture(r)) for r in conn.execute(q.order_by(captures.c.id).limit(limit))]


def photographer_photos(conn: Connection, person_id: int, *, limit: int) -> list[dict[str, Any]]:
    """The images of the current versions of the articles ``person_id`` is credited on as a
    photographer, newest article first: url, caption, article id and whether it is archived."""
    q = (
        select(images.c.url, images.c.caption, articles.c.id.label("article_id"), people.c.name)
        .join(articles, and_(articles.c.current_version_id == images.c.version_id))
        .join(credits, and_(credits.c.version_id == images.c.version_id, credits.c.role == "photographers"))
        .join(people, people.c.id == credits.c.person_id)
        .where(credits.c.person_id == person_id)
        .order_by(articles.c.published_at.desc(), images.c.position)
        .limit(limit * 4)
    )
    rows = [dict(r._mapping) for r in conn.execute(q)]
    # with several photographers on one article, a caption names whose photo it is
    named = [r for r in rows if r["name"] in (r["caption"] or "")]
    return (named or rows)[:limit]


def _of_pages(conn: Connection, *, ids: list[int]) -> list[dict[str, Any]]:
    return resources_mod.of_page(conn, ids)


class CapturesReads:
    """Mixed into ``browse.Reader``: the archive view's reads of resources and captures."""

    engine: Engine
    canonicalize: Callable[[str], str]

    def _captures_read(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except SQLAlchemyError as exc:
            raise store_error(exc, "archive view") from exc

    def resources_for(self, urls_: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The resource rows of ``urls_`` by URL as given (archived or why not); absent when unknown."""
        keys = {u: url_key(self.canonicalize(u)) for u in urls_}
        rows = self._captures_read(lambda c: resources_mod.of_urls(c, sorted(set(keys.values()))))
        return {u: rows[k] for u, k in keys.items() if k in rows}

    def payload_of(self, digest: str) -> tuple[str, int] | None:
        """Where a full record of payload ``digest`` sits (WARC file, offset), among resources
        first, then any capture."""

        def work(conn: Connection) -> tuple[str, int] | None:
            found = resources_mod.payload_record(conn, digest)
            if found is None and (cap := full_record(conn, digest)) is not None:
                found = (cap.warc_file, cap.warc_offset)
            return found

        return self._captures_read(work)

    def photographer_photos(self, person_id: int, limit: int = 24) -> list[dict[str, Any]]:
        """A photographer's photos (see ``capture_index.photographer_photos``)."""
        return self._captures_read(lambda c: photographer_photos(c, person_id, limit=limit))

    def captures_near(
        self, url: str, at: datetime | None, *, exact: bool = False, limit: int = 20
    ) -> list[Capture]:
        """The captures of ``url`` as written, and (unless ``exact``) of its canonical form (an
        alias with a tracking parameter finds the page), nearest to ``at`` first. Page 2 of an
        article is its own URL here: the index keys records by the URL they hold, never folded."""
        keys = [capture_key(url)] if exact else sorted({capture_key(url), url_key(self.canonicalize(url))})
        return self._captures_read(lambda c: nearest(c, keys, at, limit=limit))

    def html_captures_between(
        self, start: datetime | None, end: datetime | None, *, after: int = 0, limit: int = 500
    ) -> list[tuple[int, Capture]]:
        """HTML responses captured in the time range (see ``html_between``)."""
        return self._captures_read(lambda c: html_between(c, start, end, after=after, limit=limit))

    def resources_of_pages(self, page_url_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The archived resources of the pages (frontier URL ids), and of the stylesheets among
        them (their images, fonts, imports), each once."""
        out: dict[int, dict[str, Any]] = {}
        todo, done = set(page_url_ids), set()
        while todo:
            rows = self._captures_read(functools.partial(_of_pages, ids=sorted(todo)))
            done |= todo
            todo = set()
            for row in rows:
                out.setdefault(int(row["id"]), row)
                if row["kind"] == "stylesheet" and row["url_id"] is not None and row["url_id"] not in done:
                    todo.add(int(row["url_id"]))
        return list(out.values())

    def page_text(self, url: str) -> tuple[str, str] | None:
        """The current title and text of the article at ``url`` (its own URL or an alias)."""
        key = url_key(self.canonicalize(url))

        def work(conn: Connection) -> tuple[str, str] | None:
            aid = articles_mod.article_for_key(conn, key)
            if aid is None:
                return None
            row = conn.execute(
                select(article_versions.c.title, article_versions.c.body_text)
                .join(articles, articles.c.current_version_id == article_versions.c.id)
                .where(articles.c.id == aid)
            ).first()
            return None if row is None else (row[0], row[1])

        return self._captures_read(work)

    def is_canonical(self, url: str) -> bool:
        """Whether ``url`` is its own canonical form (not page 2 of an article, not an alias)."""
        return capture_key(url) == url_key(self.canonicalize(url))


def capture_key(url: str) -> str:
    """The index key of a URL as captured (no canonical folding: page 2 of an article is its own)."""
    return url_key(url)


__all__ = ["Capture", "CapturesReads", "capture_key"]
