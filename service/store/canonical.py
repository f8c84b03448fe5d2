"""Which member of a group of copies is the original, and the hand-over when the original arrives late.

Among exact and near duplicates the canonical article (``duplicate_of`` NULL, the one in the
near-duplicate index) is the one published first, then the one with the lowest site id. Lists run
newest first, so a syndicated copy (a later id, 转载) is often fetched before its original: when
the original arrives, it takes over in the store's one write transaction. The copy becomes its
duplicate, the copies and dedup aliases of the copy follow to the original, the copy leaves the
near-duplicate index, and each row keeps its own versions. The result is the one the other crawl
order gives, and storing either article again changes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from service.store.dedup import index_fingerprint
from service.store.schema import article_urls, article_versions, articles, simhash_index, urls
from service.store.sql import insert_ignore
from service.text.simhash import hamming, to_unsigned

#: aliases recorded because a text matched the group's original; the others (site id, redirect) are
#: addresses of their own row and stay with it
DEDUP_REASONS = ("content", "near")


def compare(
    a_published: datetime | None, a_site_id: str | None, b_published: datetime | None, b_site_id: str | None
) -> int:
    """-1 when ``a`` is the original of ``b`` (published first, then the lower site id), 1 when ``b``
    is, 0 when nothing tells them apart (a missing date or id decides nothing)."""
    if a_published is not None and b_published is not None and a_published != b_published:
        return -1 if a_published < b_published else 1
    if a_site_id and b_site_id and a_site_id != b_site_id:
        return -1 if _natural(a_site_id) < _natural(b_site_id) else 1
    return 0


def _natural(site_id: str) -> tuple[Any, ...]:
    """Numbers compared as numbers: ``content_99`` before ``content_100``."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", site_id))


def identity(conn: Connection, row_id: int) -> tuple[datetime | None, str | None]:
    """Publication time and site id of the stored article ``row_id``."""
    row = conn.execute(_IDENTITY, {"_id": row_id}).one()
    return row.published_at, row.site_id


_IDENTITY = select(articles.c.published_at, articles.c.site_id).where(articles.c.id == bindparam("_id"))


_ROW = select(
    articles.c.id,
    articles.c.url_key,
    articles.c.url,
    articles.c.content_hash,
    articles.c.simhash,
    articles.c.first_seen_at,
).where(articles.c.id.in_(bindparam("ids", expanding=True)))


def take_over(conn: Connection, *, original: int, copy: int) -> None:
    """Make ``original`` the canonical article of ``copy``'s group (both rows exist). Idempotent.
    The caller refreshes the original's current version (its versions' seen times may widen)."""
    rows = {r.id: r for r in conn.execute(_ROW, {"ids": [original, copy]})}
    own, key = rows[original], rows[copy]
    exact = own.content_hash == key.content_hash
    near = own.simhash is not None and key.simhash is not None
    distance = (
        None if exact or not near else hamming(to_unsigned(int(own.simhash)), to_unsigned(int(key.simhash)))
    )
    # the original's own address is no alias of anything any more
    conn.execute(delete(article_urls).where(article_urls.c.url_key == own.url_key))
    conn.execute(update(articles).where(articles.c.id == original).values(duplicate_of=None))
    conn.execute(update(articles).where(articles.c.duplicate_of == copy).values(duplicate_of=original))
    conn.execute(update(articles).where(articles.c.id == copy).values(duplicate_of=original))
    moving = article_urls.c.article_id == copy, article_urls.c.reason.in_(DEDUP_REASONS)
    moved = conn.execute(
        select(article_urls.c.url_key, article_urls.c.reason, article_urls.c.first_seen_at).where(*moving)
    ).all()
    if moved:
        conn.execute(update(article_urls).where(*moving).values(article_id=original))
        conn.execute(
            update(urls).where(urls.c.url_key.in_([m.url_key for m in moved])).values(article_id=original)
        )
        _seen_again(conn, original, copy, [m.first_seen_at for m in moved if m.reason == "content"])
    # the copy's own address, as the other crawl order records it
    insert_ignore(
        conn,
        article_urls,
        {"article_id": original, "url_key": key.url_key, "url": key.url, "reason": "content" if exact else "near",
         "distance": distance, "first_seen_at": key.first_seen_at},
    )  # fmt: skip
    if own.simhash is not None:
        index_fingerprint(conn, original, to_unsigned(int(own.simhash)))
    conn.execute(delete(simhash_index).where(simhash_index.c.article_id == copy))


def _seen_again(conn: Connection, original: int, copy: int, times: list[datetime]) -> None:
    """An exact copy recorded as an alias was a sighting of the text it repeats: the original's
    versions with one of the copy's texts are widened to it, as when the original was there first."""
    if not times:
        return
    texts = select(article_versions.c.content_hash).where(article_versions.c.article_id == copy)
    rows = conn.execute(
        select(
            article_versions.c.id, article_versions.c.first_seen_at, article_versions.c.last_seen_at
        ).where(article_versions.c.article_id == original, article_versions.c.content_hash.in_(texts))
    ).all()
    for v in rows:
        conn.execute(
            update(article_versions)
            .where(article_versions.c.id == v.id)
            .values(first_seen_at=min(v.first_seen_at, *times), last_seen_at=max(v.last_seen_at, *times))
        )


def adopt(conn: Connection, row: int, *, root: int, url: str, key: str, site_id: str) -> bool:
    """The row ``row`` (in the group of ``root``) has no site id: a mirror page stored first. It
    becomes the article at ``url`` with ``site_id``, and its own address an alias of the group, as
    the other crawl order records them. False (nothing done) when the row has a site id."""
    old = conn.execute(_ADDRESS, {"_id": row}).one()
    if old.site_id is not None:
        return False
    conn.execute(update(articles).where(articles.c.id == row).values(url=url, url_key=key, site_id=site_id))
    conn.execute(delete(article_urls).where(article_urls.c.url_key == key))
    aliases = [(old.url_key, old.url, "content")]
    if row != root:  # a copy in its own row is an alias of its group's original too
        aliases.append((key, url, "near"))
    for alias_key, alias_url, reason in aliases:
        insert_ignore(
            conn,
            article_urls,
            {"article_id": root, "url_key": alias_key, "url": alias_url, "reason": reason,
             "distance": None, "first_seen_at": old.first_seen_at},
        )  # fmt: skip
    return True


_ADDRESS = select(articles.c.url_key, articles.c.url, articles.c.site_id, articles.c.first_seen_at).where(
    articles.c.id == bindparam("_id")
)
