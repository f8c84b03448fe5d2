"""Reading articles out: the export rows of docs/architecture.md, streamed in constant memory.

Rows are read by keyset pagination (``id > last ORDER BY id LIMIT n``) rather than one long cursor:
memory stays constant like a server-side cursor, and no transaction stays open for the whole export,
so a long export never holds a PostgreSQL snapshot or blocks SQLite's WAL checkpoints.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import date
from typing import IO, Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from service.model import CREDIT_ROLES
from service.store.schema import article_urls, article_versions, articles

#: export fields in order: the article JSON, then the storage fields
EXPORT_FIELDS = (
    "url",
    "site_id",
    "title",
    "subtitle",
    "published_at",
    "channel",
    "source",
    "lead",
    "body_text",
    "images",
    *CREDIT_ROLES,
    "fields_from",
    "aliases",
    "duplicate_of",
    "version",
    "first_seen_at",
    "last_changed_at",
    # an extension of the contract: when the article started answering 404/410 (it is never deleted)
    "gone_at",
)
PAGE = 500


def read_page(
    conn: Connection, *, since: date | None, until: date | None, after: int, page: int = PAGE
) -> tuple[list[dict[str, Any]], int | None]:
    """The export rows of the next ``page`` articles by id after ``after`` (published between
    ``since`` and ``until``, inclusive, when given), and the id to continue after (None: no more).
    ``Store.iter_export`` reads page after page, each on a connection of its own."""
    rows = conn.execute(page_query(since, until, after, page)).all()
    known = aliases(conn, [r.id for r in rows])
    return [row(r, known.get(r.id, [])) for r in rows], (rows[-1].id if len(rows) == page else None)


def page_query(since: date | None, until: date | None, last_id: int, page: int) -> Any:
    original = aliased(articles)
    q = (
        select(
            articles.c.id,
            articles.c.url,
            articles.c.site_id,
            articles.c.version,
            articles.c.first_seen_at,
            articles.c.last_changed_at,
            articles.c.gone_at,
            article_versions.c.title,
            article_versions.c.body_text,
            article_versions.c.data,
            original.c.url.label("duplicate_of_url"),
        )
        .join(article_versions, article_versions.c.id == articles.c.current_version_id)
        .outerjoin(original, original.c.id == articles.c.duplicate_of)
        .where(articles.c.id > last_id)
        .order_by(articles.c.id)
        .limit(page)
    )
    if since is not None:
        q = q.where(articles.c.published_on >= since)
    if until is not None:
        q = q.where(articles.c.published_on <= until)
    return q


def aliases(conn: Any, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if ids:
        q = select(article_urls.c.article_id, article_urls.c.url).where(article_urls.c.article_id.in_(ids))
        for article_id, url in conn.execute(q.order_by(article_urls.c.url)):
            out.setdefault(article_id, []).append(url)
    return out


def row(r: Any, aliases: list[str]) -> dict[str, Any]:
    data = dict(r.data)
    data["url"] = r.url
    data["site_id"] = r.site_id  # the article's identity, like its URL (a mirror's row may adopt one)
    data["title"] = r.title
    data["body_text"] = r.body_text
    data["aliases"] = aliases
    data["duplicate_of"] = r.duplicate_of_url
    data["version"] = r.version
    data["first_seen_at"] = r.first_seen_at.isoformat()
    data["last_changed_at"] = r.last_changed_at.isoformat()
    data["gone_at"] = r.gone_at.isoformat() if r.gone_at else None
    return {key: data.get(key) for key in EXPORT_FIELDS}


def write_jsonl(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """One JSON object per line (UTF-8, not escaped); how many rows."""
    n = 0
    for item in rows:
        out.write(json.dumps(item, ensure_ascii=False) + "\n")
        n += 1
    return n


#: a cell that starts with one of these is a formula to a spreadsheet (OWASP, "CSV Injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """Lists of names joined by '; ', other structures as JSON, None as ''. A cell that a
    spreadsheet would run as a formula (a title such as ``=HYPERLINK(…)``) starts with ``'`` as OWASP
    recommends: Excel and LibreOffice show the text, and the JSON lines export keeps it unchanged."""
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "; ".join(value)
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """A header of ``EXPORT_FIELDS``, then one line per article; how many rows."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    n = 0
    for item in rows:
        writer.writerow([csv_cell(item.get(f)) for f in EXPORT_FIELDS])
        n += 1
    return n
