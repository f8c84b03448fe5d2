"""Read-only queries of the archive view (``jinshan serve``): lists by cursor, a day, a channel, a
person, one article with its versions, and where its archived bytes sit.

Place in the flow: a reader of the store, beside ``export`` and ``search``; it never writes. Every
list is keyset-paginated on ``(published_at, id)`` newest first (undated articles after the dated
ones, by id), so page 1000 costs what page 1 costs: one seek in ``ix_articles_published_at_id`` or
``ix_articles_channel_published_at_id`` (migration 0007), never an OFFSET. A cursor is opaque to
callers: ``encode_cursor`` / ``decode_cursor`` (``ValueError`` on a malformed one).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Select, extract, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from service.model import CREDIT_ROLES
from service.site.urls import canonical_url, url_key
from service.store import articles as articles_mod
from service.store import export, frontier, runs, search
from service.store.capture_index import CapturesReads
from service.store.schema import (
    article_urls,
    article_versions,
    articles,
    credits,
    fetches,
    people,
    urls,
)
from service.store.search import SearchHit, SearchQuery
from service.store.sql import store_error

if TYPE_CHECKING:
    from service.store.changes import Change

T = TypeVar("T")

#: a list page holds at most this many articles, whatever is asked
MAX_LIMIT = 200


# --- cursors -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last article of a page: its publication time (None when undated) and id."""

    published_at: datetime | None
    id: int


def encode_cursor(c: Cursor) -> str:
    if c.published_at is None:
        return f"u{c.id}"
    micros = int(c.published_at.timestamp() * 1_000_000)
    return f"d{micros}.{c.id}"


def decode_cursor(raw: str) -> Cursor:
    """The cursor ``encode_cursor`` wrote; ``ValueError`` when ``raw`` is not one."""
    try:
        if raw.startswith("u"):
            return Cursor(None, _positive(raw[1:]))
        if raw.startswith("d"):
            micros, _, ident = raw[1:].partition(".")
            when = datetime.fromtimestamp(int(micros) / 1_000_000, UTC)
            return Cursor(when, _positive(ident))
    except (ValueError, OverflowError, OSError):
        pass
    raise ValueError(f"malformed cursor {raw[:40]!r}")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1 or not text.isdigit():
        raise ValueError(text)
    return value


# --- lists -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What a list shows: a publication date range (inclusive, the site's local date), a channel,
    a person's current credits (in one role or any), and whether near-duplicate copies are left out."""

    since: date | None = None
    until: date | None = None
    channel: str | None = None
    person_id: int | None = None
    role: str | None = None
    originals_only: bool = True


@dataclass(frozen=True, slots=True)
class Summary:
    """One line of a list: enough for a title, date, channel and credits."""

    id: int
    title: str
    published_at: datetime | None
    channel: str | None
    url: str
    version: int
    gone: bool
    duplicate_of: int | None
    credits: dict[str, list[str]] = field(default_factory=dict)


def list_ids(
    conn: Connection, flt: ListFilter, *, cursor: Cursor | None, limit: int
) -> tuple[list[Cursor], Cursor | None]:
    """The articles of one page, newest first, and the cursor of the next page (None at the end)."""
    limit = max(1, min(limit, MAX_LIMIT))
    got: list[Cursor] = []
    if cursor is None or cursor.published_at is not None:
        got = _page(conn, flt, cursor, limit + 1, dated=True)
    if len(got) <= limit:
        after = cursor if cursor is not None and cursor.published_at is None else None
        got += _page(conn, flt, after, limit + 1 - len(got), dated=False)
    more = len(got) > limit
    got = got[:limit]
    return got, (got[-1] if more and got else None)


def _page(conn: Connection, flt: ListFilter, cursor: Cursor | None, n: int, *, dated: bool) -> list[Cursor]:
    a = articles.c
    q: Select[Any] = select(a.published_at, a.id)
    if flt.person_id is not None:
        roles = [flt.role] if flt.role else list(CREDIT_ROLES)
        # from the person's credits (indexed) to their articles, current versions only; DISTINCT as
        # one person may hold two roles on a version. Not "id IN (…)": PostgreSQL planned that as a
        # parallel scan of every article (180 ms at 1,000,000), where these lookups take 50 ms
        q = (
            q.select_from(credits)
            .join(articles, (a.id == credits.c.article_id) & (a.current_version_id == credits.c.version_id))
            .where(credits.c.person_id == flt.person_id, credits.c.role.in_(roles))
            .distinct()
        )
    if flt.channel is not None:
        q = q.where(a.channel == flt.channel)
    if flt.since is not None:
        q = q.where(a.published_on >= flt.since)
    if flt.until is not None:
        q = q.where(a.published_on <= flt.until)
    if flt.originals_only:
        q = q.where(a.duplicate_of.is_(None))
    if dated:
        q = q.where(a.published_at.is_not(None)).order_by(a.published_at.desc(), a.id.desc())
        if cursor is not None and cursor.published_at is not None:
            q = q.where(tuple_(a.published_at, a.id) < tuple_(cursor.published_at, cursor.id))
    else:
        q = q.where(a.published_at.is_(None)).order_by(a.id.desc())
        if cursor is not None:
            q = q.where(a.id < cursor.id)
    return [Cursor(r.published_at, int(r.id)) for r in conn.execute(q.limit(n))]


def summaries(conn: Connection, ids: Iterable[int]) -> list[Summary]:
    """The list lines of ``ids``, in that order, with the credits of their current versions."""
    order = list(ids)
    if not order:
        return []
    a, v = articles.c, article_versions.c
    rows = conn.execute(
        select(a.id, a.url, a.published_at, a.channel, a.version, a.gone_at, a.duplicate_of,
               a.current_version_id, v.title)
        .join(article_versions, v.id == a.current_version_id)
        .where(a.id.in_(order))
    ).all()  # fmt: skip
    names = _credit_names(conn, [r.current_version_id for r in rows])
    by_id = {
        r.id: Summary(int(r.id), r.title, r.published_at, r.channel, r.url, int(r.version),
                      r.gone_at is not None, r.duplicate_of, names.get(r.current_version_id, {}))
        for r in rows
    }  # fmt: skip
    return [by_id[i] for i in order if i in by_id]


def _credit_names(conn: Connection, version_ids: list[int]) -> dict[int, dict[str, list[str]]]:
    out: dict[int, dict[str, list[str]]] = {}
    if not version_ids:
        return out
    q = (
        select(credits.c.version_id, credits.c.role, people.c.name, people.c.id)
        .join(people, people.c.id == credits.c.person_id)
        .where(credits.c.version_id.in_(version_ids))
        .order_by(credits.c.version_id, credits.c.role, credits.c.position)
    )
    for vid, role, name, _pid in conn.execute(q):
        out.setdefault(vid, {}).setdefault(role, []).append(name)
    return out


def export_rows(conn: Connection, ids: Iterable[int]) -> list[dict[str, Any]]:
    """The article JSON of ``export`` (the README's contract) for ``ids``, in that order, each with
    its ``id`` in the archive first."""
    order = list(ids)
    if not order:
        return []
    q = export.page_query(None, None, 0, len(order)).where(articles.c.id.in_(order))
    rows = {r.id: r for r in conn.execute(q)}
    aliases = export.aliases(conn, order)
    return [{"id": i, **export.row(rows[i], aliases.get(i, []))} for i in order if i in rows]


# --- days, channels, people ----------------------------------------------------------------------


def date_span(conn: Connection) -> tuple[date | None, date | None]:
    """The first and the last publication date in the archive (two index probes)."""
    first = conn.execute(select(func.min(articles.c.published_on))).scalar()
    last = conn.execute(select(func.max(articles.c.published_on))).scalar()
    return first, last


def day_counts(conn: Connection, first: date, last: date) -> dict[date, int]:
    """Articles (not copies) per publication date within ``first``..``last`` (an index range)."""
    a = articles.c
    q = (
        select(a.published_on, func.count())
        .where(a.published_on >= first, a.published_on <= last, a.duplicate_of.is_(None))
        .group_by(a.published_on)
    )
    return {_as_date(d): int(n) for d, n in conn.execute(q)}


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def channels(conn: Connection) -> list[tuple[str, int]]:
    """Every channel with its number of articles, largest first (a walk of the channel index)."""
    a = articles.c
    n = func.count().label("n")
    q = select(a.channel, n).where(a.channel.is_not(None)).group_by(a.channel).order_by(n.desc(), a.channel)
    return [(str(c), int(k)) for c, k in conn.execute(q)]


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    #: (year or None when undated, role) → articles whose current version credits them so
    counts: dict[tuple[int | None, str], int]


def person(conn: Connection, person_id: int) -> Person | None:
    """A person and their counts by year and role (current versions only); None when unknown."""
    name = conn.execute(select(people.c.name).where(people.c.id == person_id)).scalar()
    if name is None:
        return None
    year = extract("year", articles.c.published_on).label("year")
    q = (
        select(year, credits.c.role, func.count(func.distinct(articles.c.id)))
        .select_from(credits)
        .join(
            articles,
            (articles.c.id == credits.c.article_id) & (articles.c.current_version_id == credits.c.version_id),
        )
        .where(credits.c.person_id == person_id)
        .group_by(year, credits.c.role)
    )
    counts = {(None if y is None else int(y), str(r)): int(n) for y, r, n in conn.execute(q)}
    return Person(person_id, str(name), counts)


def person_by_name(conn: Connection, name: str) -> int | None:
    found = conn.execute(select(people.c.id).where(people.c.name == name)).scalar()
    return None if found is None else int(found)


def people_page(conn: Connection, *, prefix: str, after: str | None, limit: int) -> list[tuple[int, str]]:
    """People whose name starts with ``prefix``, by name, after ``after`` (keyset on the unique name)."""
    q = select(people.c.id, people.c.name).order_by(people.c.name).limit(max(1, min(limit, MAX_LIMIT)))
    if prefix:
        q = q.where(people.c.name >= prefix, people.c.name < prefix + "\U0010ffff")
    if after:
        q = q.where(people.c.name > after)
    return [(int(i), str(n)) for i, n in conn.execute(q)]


# --- one article ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionInfo:
    number: int
    id: int
    title: str
    body_text: str
    first_seen_at: datetime
    last_seen_at: datetime
    fetch_id: int | None
    #: when the capture that brought this version was fetched (None: stored without a fetch)
    fetched_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ArticleView:
    """Everything the article page shows: the export row, the ids behind the credits (for links),
    aliases with how they were matched, near-duplicate copies, and the versions."""

    id: int
    row: dict[str, Any]
    current_version: int
    duplicate_of_id: int | None
    people: dict[str, list[tuple[int, str]]]
    aliases: list[tuple[str, str]]
    copies: list[tuple[int, str]]
    versions: list[VersionInfo]


def article(conn: Connection, article_id: int) -> ArticleView | None:
    """The article ``article_id`` with its versions; None when there is no such article."""
    head = conn.execute(
        select(articles.c.current_version_id, articles.c.duplicate_of).where(articles.c.id == article_id)
    ).first()
    if head is None or head.current_version_id is None:
        return None
    rows = export_rows(conn, [article_id])
    if not rows:
        return None
    return ArticleView(
        id=article_id,
        row=rows[0],
        current_version=_number_of(conn, head.current_version_id),
        duplicate_of_id=head.duplicate_of,
        people=_credited(conn, head.current_version_id),
        aliases=[
            (u, r)
            for u, r in conn.execute(
                select(article_urls.c.url, article_urls.c.reason)
                .where(article_urls.c.article_id == article_id)
                .order_by(article_urls.c.first_seen_at, article_urls.c.id)
            )
        ],
        copies=_copies(conn, article_id),
        versions=versions(conn, article_id),
    )


def _number_of(conn: Connection, version_id: int) -> int:
    return int(
        conn.execute(
            select(article_versions.c.version).where(article_versions.c.id == version_id)
        ).scalar_one()
    )


def _credited(conn: Connection, version_id: int) -> dict[str, list[tuple[int, str]]]:
    out: dict[str, list[tuple[int, str]]] = {}
    q = (
        select(credits.c.role, people.c.id, people.c.name)
        .join(people, people.c.id == credits.c.person_id)
        .where(credits.c.version_id == version_id)
        .order_by(credits.c.role, credits.c.position)
    )
    for role, pid, name in conn.execute(q):
        out.setdefault(role, []).append((int(pid), str(name)))
    return out


def _copies(conn: Connection, article_id: int) -> list[tuple[int, str]]:
    copy = aliased(articles)
    q = (
        select(copy.c.id, article_versions.c.title)
        .join(article_versions, article_versions.c.id == copy.c.current_version_id)
        .where(copy.c.duplicate_of == article_id)
        .order_by(copy.c.id)
        .limit(MAX_LIMIT)
    )
    return [(int(i), str(t)) for i, t in conn.execute(q)]


def versions(conn: Connection, article_id: int) -> list[VersionInfo]:
    """Every version of the article, oldest first, with the fetch that brought it and its time."""
    v = article_versions.c
    q = (
        select(v.version, v.id, v.title, v.body_text, v.first_seen_at, v.last_seen_at, v.fetch_id,
               fetches.c.fetched_at)
        .outerjoin(fetches, fetches.c.id == v.fetch_id)
        .where(v.article_id == article_id)
        .order_by(v.version)
    )  # fmt: skip
    return [VersionInfo(int(r.version), int(r.id), r.title, r.body_text, r.first_seen_at,
                        r.last_seen_at, r.fetch_id, r.fetched_at) for r in conn.execute(q)]  # fmt: skip


# --- archived bytes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArchivedAt:
    """Where a fetch's response sits in the WARC archive."""

    fetch_id: int
    url: str
    url_id: int
    fetched_at: datetime
    warc_file: str
    warc_offset: int
    payload_digest: str | None


def _fetch_query() -> Select[Any]:
    f = fetches.c
    return (
        select(f.id, urls.c.url, f.url_id, f.fetched_at, f.warc_file, f.warc_offset, f.payload_digest)
        .join(urls, urls.c.id == f.url_id)
        .where(f.warc_file.is_not(None), f.status >= 200, f.status < 300)
    )


def _archived(row: Any) -> ArchivedAt:
    return ArchivedAt(int(row.id), row.url, int(row.url_id), row.fetched_at, row.warc_file,
                      int(row.warc_offset), row.payload_digest)  # fmt: skip


def fetch(conn: Connection, fetch_id: int) -> ArchivedAt | None:
    row = conn.execute(_fetch_query().where(fetches.c.id == fetch_id)).first()
    return None if row is None else _archived(row)


def replay_fetch(conn: Connection, article_id: int, version: int | None = None) -> ArchivedAt | None:
    """The archived response that showed ``version`` of the article (default: the current one);
    when that version records no fetch, the newest archived 2xx fetch of the article's URLs."""
    v = article_versions.c
    q = select(v.fetch_id).where(v.article_id == article_id)
    if version is None:
        q = q.join(articles, articles.c.current_version_id == v.id)
    else:
        q = q.where(v.version == version)
    fetch_id = conn.execute(q).scalar()
    found = fetch(conn, int(fetch_id)) if fetch_id is not None else None
    if found is None:
        row = conn.execute(
            _fetch_query()
            .where(urls.c.article_id == article_id)
            .order_by(fetches.c.fetched_at.desc())
            .limit(1)
        ).first()
        found = None if row is None else _archived(row)
    return found


def fetch_for_key(conn: Connection, key: str) -> ArchivedAt | None:
    """The newest archived 2xx fetch of the URL with ``key``, if it was ever fetched."""
    row = conn.execute(
        _fetch_query().where(urls.c.url_key == key).order_by(fetches.c.fetched_at.desc()).limit(1)
    ).first()
    return None if row is None else _archived(row)


def payload_source(conn: Connection, at: ArchivedAt) -> ArchivedAt | None:
    """For a revisit record: the earliest fetch of the same URL with the same payload digest
    (the response record that holds the bytes)."""
    if at.payload_digest is None:
        return None
    row = conn.execute(
        _fetch_query()
        .where(fetches.c.url_id == at.url_id, fetches.c.payload_digest == at.payload_digest,
               fetches.c.id != at.fetch_id)
        .order_by(fetches.c.fetched_at)
        .limit(1)
    ).first()  # fmt: skip
    return None if row is None else _archived(row)


def fetches_between(
    conn: Connection, *, since: date | None, until: date | None, after: int, limit: int
) -> list[ArchivedAt]:
    """Archived 2xx fetches of articles (and their aliases) published in the range, by fetch id after
    ``after``: what ``export --format wacz`` packs."""
    q = _fetch_query().join(articles, articles.c.id == urls.c.article_id)
    if since is not None:
        q = q.where(articles.c.published_on >= since)
    if until is not None:
        q = q.where(articles.c.published_on <= until)
    q = q.where(fetches.c.id > after).order_by(fetches.c.id).limit(limit)
    return [_archived(r) for r in conn.execute(q)]


# --- home -------------------------------------------------------------------------------------------


def counts(conn: Connection) -> dict[str, int]:
    """Articles (originals), copies, versions, people: the home page's numbers."""
    n = func.count()
    a = articles.c
    return {
        "articles": int(
            conn.execute(select(n).select_from(articles).where(a.duplicate_of.is_(None))).scalar_one()
        ),
        "copies": int(
            conn.execute(select(n).select_from(articles).where(a.duplicate_of.is_not(None))).scalar_one()
        ),
        "versions": int(conn.execute(select(n).select_from(article_versions)).scalar_one()),
        "aliases": int(conn.execute(select(n).select_from(article_urls)).scalar_one()),
        "people": int(conn.execute(select(n).select_from(people)).scalar_one()),
    }


def last_runs(conn: Connection, n: int = 5) -> list[dict[str, Any]]:
    return runs.last(conn, n)


__all__ = [
    "MAX_LIMIT",
    "ArchivedAt",
    "ArticleView",
    "Cursor",
    "ListFilter",
    "Person",
    "Reader",
    "Summary",
    "VersionInfo",
]


# --- the facade the web view holds ----------------------------------------------------------------


class Reader(CapturesReads):
    """The archive, read-only, for the web view: each method opens one short read transaction.

    ``canonicalize`` maps a URL to its canonical form (as ``Store`` does), so a link found in an
    archived page finds its article. Numbers that cost a count of the whole archive (home counts,
    frontier states, channel sizes) are kept for ``cache_s`` seconds; ``clock`` is injectable.
    Raises ``StoreError`` on a database error.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        canonicalize: Callable[[str], str] = canonical_url,
        cache_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.canonicalize = engine, canonicalize
        self.cache_s, self.clock = cache_s, clock
        self._cache: dict[str, tuple[float, Any]] = {}

    def _read(self, work: Callable[[Connection], T]) -> T:
        try:
            with self.engine.connect() as conn:
                return work(conn)
        except SQLAlchemyError as exc:
            raise store_error(exc, "archive view") from exc

    def _cached(self, key: str, work: Callable[[Connection], T]) -> T:
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and now - hit[0] < self.cache_s:
            return cast(T, hit[1])
        value = self._read(work)
        self._cache[key] = (now, value)
        return value

    def page(
        self, flt: ListFilter, *, cursor: Cursor | None = None, limit: int = 50
    ) -> tuple[list[Summary], Cursor | None]:
        """One page of list lines, newest first, and the next page's cursor."""

        def work(conn: Connection) -> tuple[list[Summary], Cursor | None]:
            got, nxt = list_ids(conn, flt, cursor=cursor, limit=limit)
            return summaries(conn, [c.id for c in got]), nxt

        return self._read(work)

    def api_page(
        self, flt: ListFilter, *, cursor: Cursor | None = None, limit: int = 50
    ) -> tuple[list[dict[str, Any]], Cursor | None]:
        """One page of the article JSON, newest first, and the next page's cursor."""

        def work(conn: Connection) -> tuple[list[dict[str, Any]], Cursor | None]:
            got, nxt = list_ids(conn, flt, cursor=cursor, limit=limit)
            return export_rows(conn, [c.id for c in got]), nxt

        return self._read(work)

    def article(self, article_id: int) -> ArticleView | None:
        return self._read(lambda c: article(c, article_id))

    def versions(self, article_id: int) -> list[VersionInfo]:
        return self._read(lambda c: versions(c, article_id))

    def changes(
        self,
        *,
        before: datetime | None = None,
        channel: str | None = None,
        kinds: tuple[str, ...] = ("edited", "deleted"),
        limit: int = 100,
    ) -> list[Change]:
        """The site's changes seen before ``before``, newest first (``store.changes.recent``)."""
        from service.store import changes

        return self._read(
            lambda c: changes.recent(c, before=before, channel=channel, kinds=kinds, limit=limit)
        )

    def person(self, person_id: int) -> Person | None:
        return self._read(lambda c: person(c, person_id))

    def person_by_name(self, name: str) -> int | None:
        return self._read(lambda c: person_by_name(c, name))

    def people(
        self, *, prefix: str = "", after: str | None = None, limit: int = 100
    ) -> list[tuple[int, str]]:
        return self._read(lambda c: people_page(c, prefix=prefix, after=after, limit=limit))

    def channels(self) -> list[tuple[str, int]]:
        return self._cached("channels", channels)

    def date_span(self) -> tuple[date | None, date | None]:
        return self._read(date_span)

    def day_counts(self, first: date, last: date) -> dict[date, int]:
        return self._read(lambda c: day_counts(c, first, last))

    def home(self) -> dict[str, Any]:
        """Counts and frontier states (cached); the last runs and the last daemon cycle (fresh, None
        when no cycle ran: its status, error, and ``params.next_try_at`` after a failure)."""
        numbers = self._cached("counts", counts)
        frontier_states = self._cached("frontier", frontier.counts)
        cycle = self._read(lambda c: runs.last(c, 1, kind="cycle"))
        return {"counts": numbers, "frontier": frontier_states, "runs": self._read(last_runs),
                "last_cycle": cycle[0] if cycle else None}  # fmt: skip

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """The search of ``jinshan search`` on the index as it is (the daemon and the crawl keep it
        current; a read-only view does not write)."""
        return self._read(lambda c: search.search(c, query))

    def replay_fetch(self, article_id: int, version: int | None = None) -> ArchivedAt | None:
        return self._read(lambda c: replay_fetch(c, article_id, version))

    def fetch(self, fetch_id: int) -> ArchivedAt | None:
        return self._read(lambda c: fetch(c, fetch_id))

    def payload_source(self, at: ArchivedAt) -> ArchivedAt | None:
        return self._read(lambda c: payload_source(c, at))

    def fetch_for_url(self, url: str) -> ArchivedAt | None:
        key = url_key(self.canonicalize(url))
        return self._read(lambda c: fetch_for_key(c, key))

    def article_for_url(self, url: str) -> int | None:
        key = url_key(self.canonicalize(url))
        return self._read(lambda c: articles_mod.article_for_key(c, key))

    def title_for_url(self, url: str) -> str | None:
        """The current title of the article at ``url`` (its own URL or an alias), if any."""
        key = url_key(self.canonicalize(url))

        def work(conn: Connection) -> str | None:
            aid = articles_mod.article_for_key(conn, key)
            if aid is None:
                return None
            q = select(article_versions.c.title).join(
                articles, articles.c.current_version_id == article_versions.c.id
            )
            return conn.execute(q.where(articles.c.id == aid)).scalar()

        return self._read(work)

    def fetches_between(
        self, *, since: date | None, until: date | None, after: int = 0, limit: int = 500
    ) -> list[ArchivedAt]:
        return self._read(lambda c: fetches_between(c, since=since, until=until, after=after, limit=limit))
