"""Resources archived with pages (images, stylesheets, fonts, e-paper scans): the ``resources`` and
``page_resources`` tables (0011) and the frontier rows that fetch them.

A resource is a frontier URL of kind "resource" at ``RESOURCE_PRIORITY``, below every page: a
claim takes the due pages first, so a backfill is never starved of articles by their images. The
URL is added once (a logo used by every page is one row); a resource already archived is queued
again only when it was last checked before ``revisit_before`` (then asked conditionally). Every
write here is an idempotent upsert in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select, update

from service.store import frontier
from service.store.schema import page_resources, resources, state_is, urls
from service.store.sql import insert_ignore_rows

#: frontier priority of resources: below pages (0) and revisits, so pages are claimed first
RESOURCE_PRIORITY = -10
#: the life of a resource row
RESOURCE_STATUSES = ("pending", "archived", "missing")


@dataclass(frozen=True, slots=True)
class NeededResource:
    """A resource a page needs: canonical URL, its store key, its kind (``extract.resources``)."""

    url: str
    key: str
    kind: str


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """How the fetch of one resource ended, for ``record``: ``status`` "archived" (with where its
    record is) or "missing" (``why_not``: the fetch error's reason, e.g. "too_large", "http_404")."""

    status: str
    fetched_at: datetime
    http_status: int | None = None
    why_not: str | None = None
    content_type: str | None = None
    size: int | None = None
    payload_digest: str | None = None
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    revisit: bool = False
    not_modified: bool = False


def add_for_page(
    conn: Connection,
    page_url_id: int,
    needed: Sequence[NeededResource],
    *,
    found_on: str,
    published_on: date | None,
    now: datetime,
    revisit_before: datetime,
) -> int:
    """Record that the page of ``page_url_id`` uses ``needed``, and queue the resources not archived
    yet (or last checked before ``revisit_before``); how many were queued."""
    if not needed:
        return 0
    wanted = {n.key: n for n in needed}
    keys = list(wanted)
    insert_ignore_rows(conn, resources, [
        {"url_key": n.key, "url": n.url, "kind": n.kind, "status": "pending", "first_seen_at": now}
        for n in wanted.values()
    ])  # fmt: skip
    new = insert_ignore_rows(conn, urls, [
        {"url_key": n.key, "url": n.url, "kind": "resource", "state": "new", "priority": RESOURCE_PRIORITY,
         "found_on": found_on, "published_on": published_on, "due_at": now, "attempts": 0, "created_at": now,
         "updated_at": now}
        for n in wanted.values()
    ], returning=("id",))  # fmt: skip
    rows = conn.execute(
        select(resources.c.id, resources.c.url_key, resources.c.url_id, urls.c.id)
        .join(urls, urls.c.url_key == resources.c.url_key)
        .where(resources.c.url_key.in_(keys))
    ).all()
    for res_id, _key, url_id, frontier_id in rows:
        if url_id is None:
            conn.execute(update(resources).where(resources.c.id == res_id).values(url_id=frontier_id))
    # an archived resource last checked long ago is asked again (conditionally) once
    stale = conn.execute(
        update(urls)
        .where(urls.c.url_key.in_(keys), state_is("done"), urls.c.kind == "resource",
               or_(urls.c.last_fetched_at.is_(None), urls.c.last_fetched_at < revisit_before))
        .values(state="new", due_at=now, updated_at=now)
    )  # fmt: skip
    insert_ignore_rows(conn, page_resources, [
        {"page_url_id": page_url_id, "resource_id": r[0], "first_seen_at": now} for r in rows
    ])  # fmt: skip
    return len(new) + int(stale.rowcount or 0)


def page_row(conn: Connection, page: NeededResource, *, published_on: date | None, now: datetime) -> int:
    """The frontier row of a page that discovery reads itself (an e-paper page), finished (never
    claimed), so its resources can be linked to it; its id."""
    insert_ignore_rows(conn, urls, [
        {"url_key": page.key, "url": page.url, "kind": page.kind, "state": "done", "priority": 0, "found_on": None,
         "published_on": published_on, "due_at": None, "attempts": 0, "created_at": now, "updated_at": now}
    ])  # fmt: skip
    return int(conn.execute(select(urls.c.id).where(urls.c.url_key == page.key)).scalar_one())


def known_payload(conn: Connection, digest: str, key: str) -> tuple[str, datetime] | None:
    """Another resource archived in full with payload ``digest``: its URL and capture time."""
    row = conn.execute(
        select(resources.c.url, resources.c.last_seen_at)
        .where(resources.c.payload_digest == digest, resources.c.status == "archived",
               resources.c.revisit.is_(False), resources.c.url_key != key, resources.c.last_seen_at.is_not(None))
        .order_by(resources.c.id)
        .limit(1)
    ).first()  # fmt: skip
    return None if row is None else (row[0], row[1])


def record(
    conn: Connection,
    url_id: int,
    key: str,
    result: ResourceResult,
    *,
    fetch: dict[str, Any] | None,
    state: str,
    next_due_at: datetime | None,
    now: datetime,
    validators: dict[str, Any],
) -> None:
    """The end of one resource fetch in one transaction: the exchange (``fetch``, the values of
    ``frontier.record_fetch``), the resource row, the frontier URL's new ``state``."""
    if result.status not in RESOURCE_STATUSES:
        raise ValueError(f"unknown resource status {result.status!r}; expected one of {RESOURCE_STATUSES}")
    if fetch is not None:
        frontier.insert_fetch(conn, url_id, fetch)
    values: dict[str, Any] = {
        "checked_at": result.fetched_at,
        "http_status": result.http_status,
        "url_id": url_id,
    }
    if result.not_modified:
        values["last_seen_at"] = result.fetched_at
    elif result.status == "archived":
        values.update(
            status="archived", why_not=None, content_type=result.content_type, size=result.size,
            payload_digest=result.payload_digest, warc_file=result.warc_file, warc_offset=result.warc_offset,
            warc_length=result.warc_length, revisit=result.revisit, last_seen_at=result.fetched_at,
        )  # fmt: skip
    else:
        # a resource archived before keeps its record: the page showed it; only why it is gone now is new
        values["why_not"] = result.why_not
        values["status"] = case((resources.c.warc_file.is_not(None), resources.c.status), else_="missing")
    conn.execute(update(resources).where(resources.c.url_key == key).values(values))
    frontier.finish_url(conn, url_id, state=state, next_due_at=next_due_at, now=now, reset_attempts=state == "done",
                        fields={"error": result.why_not, "last_status": result.http_status, **validators},
                        fetched_at=result.fetched_at if fetch is not None else None)  # fmt: skip


def counts(conn: Connection) -> dict[str, Any]:
    """Resources by kind: archived (and their bytes), pending, missing; and the reasons of the missing."""
    by_kind: dict[str, dict[str, int]] = {}
    q = select(
        resources.c.kind, resources.c.status, func.count(), func.coalesce(func.sum(resources.c.size), 0)
    )
    for kind, status, n, size in conn.execute(q.group_by(resources.c.kind, resources.c.status)):
        row = by_kind.setdefault(kind, {"archived": 0, "bytes": 0, "pending": 0, "missing": 0})
        row[status] = row.get(status, 0) + int(n)
        if status == "archived":
            row["bytes"] += int(size)
    why = {
        reason: int(n)
        for reason, n in conn.execute(
            select(resources.c.why_not, func.count())
            .where(resources.c.status == "missing")
            .group_by(resources.c.why_not)
        )
    }
    return {"by_kind": dict(sorted(by_kind.items())), "missing_reasons": why}


def of_urls(conn: Connection, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The resource rows of ``keys`` (store keys), by key; keys with no row are absent."""
    if not keys:
        return {}
    cols = [resources.c[c] for c in ("id", "url_key", "url", "kind", "status", "why_not", "content_type", "size",
                                      "payload_digest", "warc_file", "warc_offset", "revisit", "last_seen_at")]  # fmt: skip
    return {
        r.url_key: dict(r._mapping)
        for r in conn.execute(select(*cols).where(resources.c.url_key.in_(list(keys))))
    }


def payload_record(conn: Connection, digest: str) -> tuple[str, int] | None:
    """Where a full (not revisit) record of payload ``digest`` sits: (WARC file, offset)."""
    row = conn.execute(
        select(resources.c.warc_file, resources.c.warc_offset)
        .where(resources.c.payload_digest == digest, resources.c.revisit.is_(False),
               resources.c.warc_file.is_not(None))
        .limit(1)
    ).first()  # fmt: skip
    return None if row is None else (row[0], int(row[1]))


def of_page(conn: Connection, page_url_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The archived resources the pages ``page_url_ids`` use (each once), with their records."""
    if not page_url_ids:
        return []
    q = (
        select(resources.c.id, resources.c.url, resources.c.url_id, resources.c.kind, resources.c.warc_file,
               resources.c.warc_offset, resources.c.payload_digest, resources.c.revisit)
        .join(page_resources, page_resources.c.resource_id == resources.c.id)
        .where(and_(page_resources.c.page_url_id.in_(list(page_url_ids)), resources.c.warc_file.is_not(None)))
        .distinct()
        .order_by(resources.c.id)
    )  # fmt: skip
    return [dict(r._mapping) for r in conn.execute(q)]
