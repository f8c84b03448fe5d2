"""The store's doors for captures: resources archived with pages (``store.resources`` holds the
queries). ``Store`` takes these methods from ``CapturesDoors``; each opens one short transaction,
as the rest of the ``Store`` does, and raises ``StoreError`` for any database error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine

from service.site.urls import url_key
from service.store import capture_index, resources
from service.store.resources import NeededResource, ResourceResult
from service.store.sql import aware, translate_errors, utcnow

__all__ = ["CapturesDoors", "NeededResource", "ResourceResult"]

T = TypeVar("T")


@translate_errors
class CapturesDoors:
    """Mixed into ``Store``: the writes and reads of resources (images, stylesheets, fonts, scans)."""

    engine: Engine
    canonicalize: Callable[[str], str]

    if TYPE_CHECKING:  # the store's one write door and its read door (``Store._write``, ``Store._read``)

        def _write(self, work: Callable[[Connection], T], *, what: str, snapshot: bool = False) -> T: ...

        def _read(self, work: Callable[[Connection], T]) -> T: ...

    def resource_key(self, url: str) -> str:
        """The store key of a resource URL (``url_key`` of its canonical form)."""
        return url_key(self.canonicalize(url))

    def add_page_resources(
        self,
        page_url_id: int | None,
        needed: Iterable[tuple[str, str]],
        *,
        found_on: str,
        published_on: date | None,
        revisit_days: float,
    ) -> int:
        """The page of frontier URL ``page_url_id`` uses ``needed`` ((URL, kind) each): record the
        links and queue the resources not archived yet, or last checked more than ``revisit_days``
        ago; how many were queued. ``page_url_id`` None: the page (``found_on``, an e-paper page
        that discovery reads) is recorded in the frontier as finished, to link to. Idempotent."""
        now = utcnow()
        items: dict[str, NeededResource] = {}
        for url, kind in needed:
            canon = self.canonicalize(url)
            items.setdefault(url_key(canon), NeededResource(canon, url_key(canon), kind))
        before = now - timedelta(days=revisit_days)
        page = NeededResource(self.canonicalize(found_on), self.resource_key(found_on), "epaper_layout")

        def work(c: Any) -> int:
            page_id = page_url_id
            if page_id is None:
                page_id = resources.page_row(c, page, published_on=published_on, now=now)
            return resources.add_for_page(c, page_id, list(items.values()), found_on=found_on,
                                          published_on=published_on, now=now, revisit_before=before)  # fmt: skip

        return self._write(work, what="add_page_resources")

    def known_payload(self, url: str, digest: str) -> tuple[str, datetime] | None:
        """Another URL whose resource holds payload ``digest`` in full, and when it was captured."""
        key = self.resource_key(url)
        return self._read(lambda conn: resources.known_payload(conn, digest, key))

    def record_resource(
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
        """The end of one resource's fetch, in one transaction: the exchange (``fetch``: the
        keyword arguments of ``record_fetch``, None when nothing was sent), the resource row, the
        frontier URL's ``state`` ("done", "refused", "gone", "failed")."""
        now = utcnow()
        values = None if fetch is None else {**fetch, "fetched_at": aware(fetch["fetched_at"])}
        validators = {"etag": etag, "last_modified": last_modified, "payload_digest": result.payload_digest}
        key = self.resource_key(url)
        self._write(lambda c: resources.record(
            c, url_id, key, result, fetch=None if values is None else dict(values), state=state,
            next_due_at=next_due_at, now=now, validators=validators), what="record_resource")  # fmt: skip

    def resource_counts(self) -> dict[str, Any]:
        """Resources by kind (archived, bytes, pending, missing) and why the missing ones are."""
        return self._read(resources.counts)

    def captures_indexed_to(self) -> dict[str, int]:
        """How far each WARC file has been read into the replay's index (bytes)."""
        return self._read(capture_index.indexed_to)

    def index_captures(self, warc_file: str, rows: Sequence[dict[str, Any]], *, read_to: int) -> int:
        """Index ``rows`` (records of ``warc_file``, as ``fetch.archive.CaptureInfo`` fields) and note
        the file read up to ``read_to``; how many were new. Idempotent."""
        values = [{**r, "url_key": capture_index.capture_key(r["url"]), "warc_file": warc_file} for r in rows]
        return self._write(lambda c: capture_index.add(c, values, warc_file=warc_file, read_to=read_to),
                           what="index_captures")  # fmt: skip

    def resources_of(self, urls: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The resource rows of ``urls``, by URL as given; URLs with no row are absent."""
        keys = {url: self.resource_key(url) for url in urls}
        rows = self._read(lambda conn: resources.of_urls(conn, sorted(set(keys.values()))))
        return {url: rows[key] for url, key in keys.items() if key in rows}
