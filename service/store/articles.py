"""Storing an extracted ``Article``: the dedup decision, versions, aliases, credits and images.

``store_article`` runs in one write transaction (rerun on a unique-key race, see ``Store._write``).
Rows are keyed by what the article *is* (URL key, site id, content and version hashes), never by
arrival order, so replaying fetches any number of times in any order gives the same rows: a version
seen again only widens its first/last seen times, version numbers follow ``first_seen_at``, and the
current version is the one first seen last.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, literal, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from service.model import CREDIT_ROLES, Article
from service.settings import DedupSettings
from service.site.urls import url_key
from service.store import canonical, dedup, search
from service.store.dedup import Fingerprints, Match
from service.store.schema import article_urls, article_versions, articles, credits, images, people, urls
from service.store.sql import Conflict, insert_ignore, insert_ignore_many, insert_ignore_rows
from service.store.types import StoreOutcome
from service.text.simhash import to_signed


def store(
    conn: Connection,
    article: Article,
    *,
    canonicalize: Callable[[str], str],
    settings: DedupSettings,
    url_id: int | None,
    fetch_id: int | None,
    seen_at: datetime,
    link_url: bool = True,
    fps: Fingerprints | None = None,
    people_known: KnownPeople | None = None,
    people_created: dict[str, int] | None = None,
) -> StoreOutcome:
    """Place ``article`` in the archive; see ``Store.store_article`` for the contract.

    ``link_url``: point the frontier URL ``url_id`` at the article here (False when the caller's
    own update of that URL row does it). ``fps``: the article's fingerprints, when the caller
    computed them before the transaction (they depend on the article alone). ``people_known``:
    the person ids the caller's store remembers (see ``KnownPeople``); ``people_created``: filled
    with the people this transaction created, for the caller to remember once it committed.
    """
    canon = canonicalize(article.url)
    key = url_key(canon)
    fps = fps or dedup.fingerprints(article, settings)
    match = dedup.find_match(conn, key=key, site_id=article.site_id, fps=fps, settings=settings)
    if match and match.reason == "alias" and match.alias_reason != "site_id":
        # a mirror URL seen again: still the same text, or it now says something else
        if dedup.has_content(conn, match.article_id, fps.content_hash):
            match = Match(match.article_id, "content", holder=match.article_id)
        else:
            match = dedup.find_match(
                conn, key=key, site_id=article.site_id, fps=fps, settings=settings, by_url=False
            )
    ctx = _Ctx(conn, article, canon, key, fps, url_id, fetch_id, seen_at, people_known, people_created)
    if match is None:
        outcome = _create(ctx, duplicate_of=None)
    elif match.reason == "content" and _adopt(ctx, match):
        # a mirror page without a site id stored first: its row became this article
        outcome = _existing(ctx, Match(match.holder or match.article_id, "url"))
    elif match.reason == "near" or (match.reason == "content" and _own_row(ctx, match.article_id)):
        outcome = _copy_or_original(ctx, match)
    elif match.reason == "content":
        _alias(ctx, match)
        version = _see_content(conn, match.article_id, fps.content_hash, seen_at)
        outcome = StoreOutcome("duplicate", match.article_id, version, match.article_id)
    else:
        if match.reason == "site_id":
            _alias(ctx, match)
        outcome = _existing(ctx, match)
    # every branch above wrote the row of ``outcome.article_id`` (``_create`` or ``_refresh_current``),
    # flagging its search document as maybe stale (``search.PENDING``)
    if url_id is not None and link_url:
        conn.execute(_LINK_URL, {"_id": url_id, "_article_id": outcome.article_id})
    return outcome


_LINK_URL = update(urls).where(urls.c.id == bindparam("_id")).values(article_id=bindparam("_article_id"))


class _Ctx:
    """The inputs of one store, computed once."""

    def __init__(
        self,
        conn: Connection,
        article: Article,
        canon: str,
        key: str,
        fps: Fingerprints,
        url_id: int | None,
        fetch_id: int | None,
        seen_at: datetime,
        people: KnownPeople | None,
        created: dict[str, int] | None,
    ) -> None:
        self.conn, self.article, self.canon, self.key, self.fps = conn, article, canon, key, fps
        self.url_id, self.fetch_id, self.seen_at, self.people = url_id, fetch_id, seen_at, people
        self.created = created


def _create(ctx: _Ctx, *, duplicate_of: int | None) -> StoreOutcome:
    a = ctx.article
    published_on = a.published_at.date() if a.published_at else None
    # the row points at its first version from the start: the version's id is taken in the same
    # statement (``_create_stmt``), so no UPDATE of the new row follows
    created = ctx.conn.execute(
        _create_stmt(ctx.conn.dialect.name),
        {
            "url_key": ctx.key,
            "url": ctx.canon,
            "site_id": a.site_id or None,
            "duplicate_of": duplicate_of,
            "version": 1,
            "content_hash": ctx.fps.content_hash,
            "simhash": None if ctx.fps.simhash is None else to_signed(ctx.fps.simhash),
            "published_at": a.published_at,
            "published_on": published_on,
            "channel": a.channel,
            "first_seen_at": ctx.seen_at,
            "last_seen_at": ctx.seen_at,
            "last_changed_at": ctx.seen_at,
            **search.PENDING,
        },
    ).first()
    if created is None:
        raise Conflict(f"article {ctx.key} or site id {a.site_id} appeared meanwhile")
    article_id, version_id = int(created[0]), int(created[1])
    _add_version(ctx, article_id, number=1, version_id=version_id)
    if duplicate_of is None:
        dedup.index_fingerprint(ctx.conn, article_id, ctx.fps.simhash)
        return StoreOutcome("new", article_id, 1)
    return StoreOutcome("duplicate", article_id, 1, duplicate_of)


@functools.cache
def _create_stmt(dialect: str) -> Any:
    """INSERT of a new article row (unless its URL key or site id is taken), which also takes the id
    of its first version: the next value of the versions' sequence (PostgreSQL), or the next rowid
    (SQLite: the transaction holds the write lock, so nothing else inserts a version before it);
    returns the article's id and that version id. Built once per dialect."""
    if dialect == "postgresql":
        next_id: Any = func.nextval(func.pg_get_serial_sequence("article_versions", "id"))
        ins: Any = postgresql.insert(articles)
    else:
        next_id = select(func.coalesce(func.max(article_versions.c.id), 0) + 1).scalar_subquery()
        ins = sqlite.insert(articles)
    return (
        ins.values(
            {**{c: bindparam(c, type_=articles.c[c].type) for c in _CREATED}, "current_version_id": next_id}
        )
        .on_conflict_do_nothing()
        .returning(articles.c.id, articles.c.current_version_id)
    )


#: the columns ``_create`` gives a new article row (``current_version_id`` is taken by the statement)
_CREATED = ("url_key", "url", "site_id", "duplicate_of", "version", "content_hash", "simhash", "published_at",
            "published_on", "channel", "first_seen_at", "last_seen_at", "last_changed_at", *search.PENDING)  # fmt: skip


def _adopt(ctx: _Ctx, match: Match) -> bool:
    a = ctx.article
    if not a.site_id:
        return False
    row = match.holder or match.article_id
    return canonical.adopt(
        ctx.conn, row, root=match.article_id, url=ctx.canon, key=ctx.key, site_id=a.site_id
    )


def _own_row(ctx: _Ctx, root: int) -> bool:
    """Whether an exact copy of the article ``root`` gets its own row, like a near copy: when it is
    another article of the site (both have site ids, and they differ), so that either crawl order
    gives the same rows. Otherwise it is an alias of ``root``."""
    if not ctx.article.site_id:
        return False
    other = canonical.identity(ctx.conn, root)[1]
    return bool(other) and other != ctx.article.site_id


def _copy_or_original(ctx: _Ctx, match: Match) -> StoreOutcome:
    """A copy of the stored group ``match`` in its own row: the group's new original when it was
    published first (see ``canonical``), else a duplicate of the group's original."""
    a = ctx.article
    if canonical.compare(a.published_at, a.site_id, *canonical.identity(ctx.conn, match.article_id)) < 0:
        outcome = _create(ctx, duplicate_of=None)
        canonical.take_over(ctx.conn, original=outcome.article_id, copy=match.article_id)
        _refresh_current(ctx.conn, outcome.article_id)
        return outcome
    _alias(ctx, match)
    return _create(ctx, duplicate_of=match.article_id)


def _existing(ctx: _Ctx, match: Match) -> StoreOutcome:
    """Same article by identity (URL, alias, site id): the same version again, or a new one."""
    conn, article_id = ctx.conn, match.article_id
    version = conn.execute(
        select(
            article_versions.c.id, article_versions.c.first_seen_at, article_versions.c.last_seen_at
        ).where(
            article_versions.c.article_id == article_id,
            article_versions.c.version_hash == ctx.fps.version_hash,
        )
    ).first()
    if version is None:
        _add_version(ctx, article_id)
        kind = "changed"
    else:
        conn.execute(
            update(article_versions)
            .where(article_versions.c.id == version.id)
            .values(
                first_seen_at=min(version.first_seen_at, ctx.seen_at),
                last_seen_at=max(version.last_seen_at, ctx.seen_at),
            )
        )
        kind = "unchanged"
    current = _refresh_current(conn, article_id)
    dup_of = conn.execute(select(articles.c.duplicate_of).where(articles.c.id == article_id)).scalar()
    a = ctx.article
    if (
        dup_of is not None
        and canonical.compare(a.published_at, a.site_id, *canonical.identity(conn, dup_of)) < 0
    ):
        # an original stored as a copy before it arrived under its own URL (an archive of older code)
        canonical.take_over(conn, original=article_id, copy=dup_of)
        current, dup_of = _refresh_current(conn, article_id), None
    if kind == "changed" and dup_of is None:
        dedup.index_fingerprint(conn, article_id, ctx.fps.simhash)
    # the same text again under another URL, or a near-duplicate row seen again
    if kind == "unchanged" and (match.reason != "url" or dup_of is not None):
        return StoreOutcome("duplicate", article_id, current, dup_of or article_id)
    return StoreOutcome(kind, article_id, current)


def _add_version(ctx: _Ctx, article_id: int, *, number: int = 0, version_id: int | None = None) -> int:
    """Insert a version of ``article_id`` (with its credits and images); its id. ``version_id``: the
    id taken for it beforehand (``_create_stmt``)."""
    a = ctx.article
    data = a.to_json()
    # title and body have their own columns (diffs read them): not stored twice
    del data["title"], data["body_text"]
    row = {
        "article_id": article_id,
        "version": number,  # 0: numbered by _refresh_current
        "version_hash": ctx.fps.version_hash,
        "content_hash": ctx.fps.content_hash,
        "simhash": None if ctx.fps.simhash is None else to_signed(ctx.fps.simhash),
        "title": a.title,
        "subtitle": a.subtitle,
        "body_text": a.body_text,
        "data": data,
        "url_id": ctx.url_id,
        "fetch_id": ctx.fetch_id,
        "first_seen_at": ctx.seen_at,
        "last_seen_at": ctx.seen_at,
    }
    if version_id is not None:
        row["id"] = version_id
    inserted = insert_ignore(ctx.conn, article_versions, row)
    if inserted is None:
        raise Conflict(f"version of article {article_id} appeared meanwhile")
    version_id = inserted
    _add_credits(ctx.conn, article_id, version_id, a, ctx.people, ctx.created)
    _add_images(ctx.conn, article_id, version_id, a)
    return version_id


def _add_credits(
    conn: Connection,
    article_id: int,
    version_id: int,
    a: Article,
    known: KnownPeople | None,
    created: dict[str, int] | None,
) -> None:
    entries = [
        (role, position, name)
        for role in CREDIT_ROLES
        for position, name in enumerate(getattr(a.credits, role))
    ]
    if not entries:
        return
    ids = _people(conn, {name for _, _, name in entries}, known, created)
    rows = [
        {
            "article_id": article_id,
            "version_id": version_id,
            "person_id": ids[name],
            "role": role,
            "position": pos,
        }
        for role, pos, name in entries
    ]
    insert_ignore_many(conn, credits, rows)


class KnownPeople:
    """Person ids by name, remembered by one ``Store`` (one database) across its transactions: the
    newsroom's reporters and editors recur, so most articles need no statement for them at all.

    A person row is never changed or deleted, so an id once read stays right. An id a transaction
    created is remembered only once that transaction committed (``Store`` passes the ids a
    transaction created, ``people_created``, after the commit): a rolled-back one would be wrong.
    Bounded: starts over past ``MAX`` names.
    """

    MAX = 100_000

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def remember(self, found: dict[str, int]) -> None:
        if len(self.ids) + len(found) > self.MAX:
            self.ids.clear()
        self.ids.update(found)


def _people(
    conn: Connection, names: set[str], known: KnownPeople | None, created: dict[str, int] | None
) -> dict[str, int]:
    """Person ids by name, creating the missing people: no statement when every name is known to
    ``known``; else one INSERT that returns the people it created, and one SELECT when some of the
    names were already there, whatever the count. The ids created go to ``created``."""
    ids = {n: known.ids[n] for n in names if n in known.ids} if known else {}
    todo = sorted(names - ids.keys())  # sorted: two writers of the same new names lock them in one order
    if not todo:
        return ids
    rows = [{"name": n} for n in todo]
    made = {
        str(name): int(pid) for pid, name in insert_ignore_rows(conn, people, rows, returning=("id", "name"))
    }
    if created is not None:
        created.update(made)
    ids.update(made)
    there = [n for n in todo if n not in made]
    if there:
        # rows other transactions committed (a row this one could not see would have failed the
        # INSERT as a serialization conflict on PostgreSQL): safe to remember now
        found = {str(name): int(pid) for name, pid in conn.execute(_PEOPLE_BY_NAME, {"names": there})}
        if len(found) < len(there):
            raise Conflict(f"people {sorted(set(there) - found.keys())} neither created nor found")
        if known is not None:
            known.remember(found)
        ids.update(found)
    return ids


#: built once (SQLAlchemy reuses its compiled form); the name list is expanded at execution
_PEOPLE_BY_NAME = select(people.c.name, people.c.id).where(
    people.c.name.in_(bindparam("names", expanding=True))
)


def _add_images(conn: Connection, article_id: int, version_id: int, a: Article) -> None:
    rows = [
        {
            "article_id": article_id,
            "version_id": version_id,
            "position": p,
            "url": i.url,
            "caption": i.caption,
        }
        for p, i in enumerate(a.images)
    ]
    insert_ignore_many(conn, images, rows)


def _refresh_current(conn: Connection, article_id: int) -> int:
    """Number the versions by first sighting, point the article at the current one; how many.

    Only sets of rows and min/max of times are used, so the result does not depend on the order
    in which fetches were replayed. ``last_changed_at`` is when the newest text first appeared.
    """
    rows = list(
        conn.execute(
            select(
                article_versions.c.id,
                article_versions.c.version,
                article_versions.c.first_seen_at,
                article_versions.c.last_seen_at,
                article_versions.c.version_hash,
                article_versions.c.content_hash,
                article_versions.c.simhash,
                article_versions.c.data,
            ).where(article_versions.c.article_id == article_id)
        )
    )
    rows.sort(key=lambda r: (r.first_seen_at, r.version_hash))
    for number, row in enumerate(rows, start=1):
        if row.version != number:
            conn.execute(
                update(article_versions).where(article_versions.c.id == row.id).values(version=number)
            )
    # the text seen most recently is current: a page that reverts an edit shows the old text again
    current = max(rows, key=lambda r: (r.last_seen_at, r.first_seen_at, r.version_hash))
    published = current.data.get("published_at")
    conn.execute(
        update(articles)
        .where(articles.c.id == article_id)
        .values(
            current_version_id=current.id,
            version=len(rows),
            content_hash=current.content_hash,
            simhash=current.simhash,
            published_at=datetime.fromisoformat(published) if published else None,
            published_on=datetime.fromisoformat(published).date() if published else None,
            channel=current.data.get("channel"),
            first_seen_at=rows[0].first_seen_at,
            last_seen_at=max(r.last_seen_at for r in rows),
            last_changed_at=rows[-1].first_seen_at,
            **search.PENDING,
        )
    )
    return len(rows)


def _see_content(conn: Connection, article_id: int, content_hash: str, seen_at: datetime) -> int:
    """The article's text was seen again (under another URL): widen the seen times of the versions
    with that text, as a sighting under its own URL would; the article's version count."""
    rows = conn.execute(
        select(
            article_versions.c.id, article_versions.c.first_seen_at, article_versions.c.last_seen_at
        ).where(article_versions.c.article_id == article_id, article_versions.c.content_hash == content_hash)
    ).all()
    for v in rows:
        conn.execute(
            update(article_versions)
            .where(article_versions.c.id == v.id)
            .values(first_seen_at=min(v.first_seen_at, seen_at), last_seen_at=max(v.last_seen_at, seen_at))
        )
    return _refresh_current(conn, article_id)


def _alias(ctx: _Ctx, match: Match) -> None:
    if match.reason in ("url", "alias"):
        return
    insert_ignore(
        ctx.conn,
        article_urls,
        {
            "article_id": match.article_id,
            "url_key": ctx.key,
            "url": ctx.canon,
            "reason": match.reason,
            "distance": match.distance,
            "first_seen_at": ctx.seen_at,
        },
    )


_BY_SITE_IDS = select(articles.c.site_id, articles.c.id, articles.c.url_key).where(
    articles.c.site_id.in_(bindparam("ids", expanding=True))
)
_OWN_KEY = select(articles.c.id).where(articles.c.url_key == bindparam("key"))
#: the article of a URL key: its own (rung 1), or the one it is an alias of (rung 2)
_FOR_KEY = union_all(
    select(literal(1).label("rung"), articles.c.id.label("article_id")).where(
        articles.c.url_key == bindparam("key")
    ),
    select(literal(2), article_urls.c.article_id).where(article_urls.c.url_key == bindparam("key")),
)


def by_site_ids(conn: Connection, site_ids: list[str]) -> dict[str, tuple[int, str]]:
    rows = conn.execute(_BY_SITE_IDS, {"ids": site_ids})
    return {str(site_id): (int(article_id), str(key)) for site_id, article_id, key in rows}


def article_for_key(conn: Connection, key: str) -> int | None:
    """The article whose own URL or alias has ``key`` (one statement: no transaction needed)."""
    rows = conn.execute(_FOR_KEY, {"key": key}).all()
    return int(min(rows)[1]) if rows else None


def add_alias(
    conn: Connection, article_id: int, url: str, key: str, *, reason: str, seen_at: datetime
) -> bool:
    """Record ``url`` as another address of ``article_id`` (e.g. one that redirects to it), unless it
    is the article's own URL or already known; True when added."""
    own = conn.execute(_OWN_KEY, {"key": key}).scalar()
    if own is not None:
        return False
    row = {
        "article_id": article_id,
        "url_key": key,
        "url": url,
        "reason": reason,
        "distance": None,
        "first_seen_at": seen_at,
    }
    return insert_ignore(conn, article_urls, row) is not None


def mark_gone(conn: Connection, key: str, at: datetime) -> bool:
    """Flag the article at URL key ``key`` (or with it as alias) as gone; never deletes. Found?"""
    article_id = conn.execute(select(articles.c.id).where(articles.c.url_key == key)).scalar()
    if article_id is None:
        article_id = conn.execute(
            select(article_urls.c.article_id).where(article_urls.c.url_key == key)
        ).scalar()
    conn.execute(
        update(urls)
        .where(urls.c.url_key == key)
        .values(state="gone", due_at=None, lease_until=None, updated_at=at)
    )
    if article_id is None:
        return False
    conn.execute(
        update(articles)
        .where(articles.c.id == article_id)
        .values(gone_at=func.coalesce(articles.c.gone_at, at))
    )
    return True


def versions(conn: Connection, article_id: int) -> list[dict[str, Any]]:
    """Every version of an article, oldest first: number, title, body, first and last seen."""
    rows = conn.execute(
        select(
            article_versions.c.version,
            article_versions.c.title,
            article_versions.c.body_text,
            article_versions.c.first_seen_at,
            article_versions.c.last_seen_at,
        )
        .where(article_versions.c.article_id == article_id)
        .order_by(article_versions.c.version)
    ).all()
    return [dict(r._mapping) for r in rows]


def diff(conn: Connection, article_id: int, old: int | None = None, new: int | None = None) -> str:
    """Unified diff (title line, then paragraphs) from version ``old`` to ``new``.

    Defaults: the previous version to the current one. '' when there is only one version. Raises
    ``KeyError`` for a version number the article does not have.
    """
    vs = {v["version"]: v for v in versions(conn, article_id)}
    if not vs:
        raise KeyError(f"article {article_id} has no versions")
    new = new if new is not None else max(vs)
    old = old if old is not None else new - 1
    if old < 1 and new == 1:
        return ""
    a, b = vs[old], vs[new]
    lines_a = [a["title"], "", *a["body_text"].split("\n")]
    lines_b = [b["title"], "", *b["body_text"].split("\n")]
    return "\n".join(difflib.unified_diff(lines_a, lines_b, f"version {old}", f"version {new}", lineterm=""))
