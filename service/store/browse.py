"""Read-only queries of the archive view (``jinshan serve``): lists by cursor, a day, a channel, a
person, one article with its versions, and where its archived bytes sit.

Place in the flow: a reader of the store, beside ``export`` and ``search``; it never writes. Every
list is keyset-paginated on ``(published_at, id)`` newest first (undated articles after the dated
ones, by id), so page 1000 costs what page 1 costs: one seek in ``ix_articles_published_at_id`` or
``ix_articles_channel_published_at_id`` (migration 0007), never an OFFSET. A cursor is opaque to
callers: ``encode_cursor`` / ``decode_cursor`` (``ValueError`` on a malformed one). A list walks
back as well as forward (``newer_ids``), so a page links to the newer and the older one.

Copies are folded under their original: lists, the calendar, channel and person counts leave them
out, and a list line says how many copies its article has. People are listed by pinyin
(``text.pinyin``), sorted here as no database sorts that way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Select, extract, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from service.model import CREDIT_ROLES
from service.site.urls import canonical_url, url_key
from service.store import articles as articles_mod
from service.store import export, frontier, runs, search, stats
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
from service.store.search import SearchHit, SearchQuery, SearchResults
from service.store.sql import store_error
from service.text import pinyin

if TYPE_CHECKING:
    from service.store.changes import Change

T = TypeVar("T")

#: a list page holds at most this many articles, whatever is asked
MAX_LIMIT = 200
#: cached numbers a Reader keeps at most (a total per API filter asked for)
CACHE_ENTRIES = 256


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
    #: articles of their own folded under this one (exact or near copies; see ``ArticleView.copies``)
    copies: int = 0


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


def newer_ids(conn: Connection, flt: ListFilter, *, before: Cursor, limit: int) -> tuple[list[Cursor], bool]:
    """The ``limit`` articles just newer than ``before`` (the page before it), newest first, and
    whether there are newer ones still: the same keyset walk as ``list_ids``, backwards (undated
    articles come after the dated ones, so from an undated cursor the walk crosses into the dated)."""
    limit = max(1, min(limit, MAX_LIMIT))
    got: list[Cursor] = []
    if before.published_at is None:
        got = _page(conn, flt, before, limit + 1, dated=False, newer=True)
    if len(got) <= limit:
        after = before if before.published_at is not None else None
        got += _page(conn, flt, after, limit + 1 - len(got), dated=True, newer=True)
    more = len(got) > limit
    return list(reversed(got[:limit])), more


def _filtered(flt: ListFilter) -> Select[Any]:
    """``published_at, id`` of the articles ``flt`` selects, unordered."""
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
    return q


def _page(
    conn: Connection, flt: ListFilter, cursor: Cursor | None, n: int, *, dated: bool, newer: bool = False
) -> list[Cursor]:
    """Up to ``n`` articles past ``cursor`` (from the start when None), dated or undated ones:
    older ones newest first, or with ``newer`` newer ones oldest first (the closest first)."""
    a = articles.c
    q = _filtered(flt)
    if dated:
        q = q.where(a.published_at.is_not(None))
        if newer:
            q = q.order_by(a.published_at, a.id)
            if cursor is not None and cursor.published_at is not None:
                q = q.where(tuple_(a.published_at, a.id) > tuple_(cursor.published_at, cursor.id))
        else:
            q = q.order_by(a.published_at.desc(), a.id.desc())
            if cursor is not None and cursor.published_at is not None:
                q = q.where(tuple_(a.published_at, a.id) < tuple_(cursor.published_at, cursor.id))
    else:
        q = q.where(a.published_at.is_(None)).order_by(a.id if newer else a.id.desc())
        if cursor is not None:
            q = q.where(a.id > cursor.id if newer else a.id < cursor.id)
    return [Cursor(r.published_at, int(r.id)) for r in conn.execute(q.limit(n))]


def count(conn: Connection, flt: ListFilter) -> int:
    """How many articles ``flt`` selects (what the API calls ``total``): one count over the same
    index walk as the list."""
    return int(conn.execute(select(func.count()).select_from(_filtered(flt).subquery())).scalar_one())


@dataclass(frozen=True, slots=True)
class ListPage:
    """A page of a list with the cursors of its neighbours: ``older`` (the next page, ``?cursor=``)
    and ``newer`` (the page before, ``?before=``), None where there is none. A day's list also has
    the nearest days before and after it that have articles."""

    rows: list[Summary]
    older: Cursor | None
    newer: Cursor | None
    prev_day: date | None = None
    next_day: date | None = None


def list_page(
    conn: Connection, flt: ListFilter, *, cursor: Cursor | None, before: Cursor | None, limit: int
) -> ListPage:
    """The page after ``cursor`` (or, given ``before``, the page before it), with its neighbours'
    cursors. A page before which nothing newer remains is the first page, filled up."""
    got: list[Cursor] = []
    more_newer = False
    if before is not None:
        got, more_newer = newer_ids(conn, flt, before=before, limit=limit)
    if before is not None and more_newer:
        older: Cursor | None = got[-1] if got else before
        newer: Cursor | None = got[0]
    else:
        start = cursor if before is None else None
        got, older = list_ids(conn, flt, cursor=start, limit=limit)
        newer = (got[0] if got else start) if start is not None else None
    prev_day = next_day = None
    if flt.since is not None and flt.since == flt.until:
        prev_day, next_day = day_neighbours(conn, flt.since)
    return ListPage(summaries(conn, [c.id for c in got]), older, newer, prev_day, next_day)


def day_neighbours(conn: Connection, day: date) -> tuple[date | None, date | None]:
    """The nearest publication dates before and after ``day`` that have articles (not copies only):
    two probes of the ``published_on`` index."""
    a = articles.c
    original = a.duplicate_of.is_(None)
    before = conn.execute(select(func.max(a.published_on)).where(a.published_on < day, original)).scalar()
    after = conn.execute(select(func.min(a.published_on)).where(a.published_on > day, original)).scalar()
    return (None if before is None else _as_date(before), None if after is None else _as_date(after))


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
    copies = copy_counts(conn, order)
    by_id = {
        r.id: Summary(int(r.id), r.title, r.published_at, r.channel, r.url, int(r.version),
                      r.gone_at is not None, r.duplicate_of, names.get(r.current_version_id, {}),
                      copies.get(int(r.id), 0))
        for r in rows
    }  # fmt: skip
    return [by_id[i] for i in order if i in by_id]


def copy_counts(conn: Connection, ids: list[int]) -> dict[int, int]:
    """How many copies (articles with ``duplicate_of``) each of ``ids`` has; absent when none. One
    probe of the partial index ``ix_articles_duplicate_of`` per id."""
    if not ids:
        return {}
    dup = articles.c.duplicate_of
    q = select(dup, func.count()).where(dup.in_(ids)).group_by(dup)
    return {int(i): int(n) for i, n in conn.execute(q)}


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
    """Every channel with its number of articles, copies left out as the channel page leaves them
    out, largest first: a walk of the channel index (index-only) less the copies of each channel,
    read through the partial index of copies (a filter on ``duplicate_of`` in the walk would read
    every row: 0.9 s instead of 0.09 at 200,000 articles)."""
    a = articles.c
    every = conn.execute(select(a.channel, func.count()).where(a.channel.is_not(None)).group_by(a.channel))
    sizes = {str(ch): int(n) for ch, n in every}
    for ch in conn.execute(select(a.channel).where(a.duplicate_of.is_not(None))).scalars():
        if ch is not None:
            sizes[str(ch)] -= 1
    return sorted(((ch, n) for ch, n in sizes.items() if n > 0), key=lambda cn: (-cn[1], cn[0]))


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    name: str
    #: (year or None when undated, role) → articles whose current version credits them so
    counts: dict[tuple[int | None, str], int]


def person(conn: Connection, person_id: int) -> Person | None:
    """A person and their counts by year and role (current versions of originals only: what their
    page lists); None when unknown."""
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
        .where(credits.c.person_id == person_id, articles.c.duplicate_of.is_(None))
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


def everyone(conn: Connection) -> list[tuple[int, str]]:
    """Every person, by pinyin (``text.pinyin.sort_key``): databases sort by code point, so the
    order is made here, over the whole table (ids and names only: 1.5 MB per 20,000 people)."""
    rows = [(int(i), str(n)) for i, n in conn.execute(select(people.c.id, people.c.name))]
    return sorted(rows, key=lambda r: pinyin.sort_key(r[1]))


def matching(found: list[tuple[int, str]], query: str) -> list[tuple[int, str]]:
    """The people of ``found`` (in its order) whose name contains ``query``; a query in Latin
    letters also matches the toneless pinyin (``zhangs`` → 张三) and the syllables' initials (``zs``)."""
    query = "".join(query.split())
    if not query:
        return found
    latin = query.isascii()
    folded = query.lower()
    out = []
    for pid, name in found:
        if query in name or (
            latin
            and (
                folded in name.lower()
                or folded in pinyin.spelled(name)
                or pinyin.initials(name).startswith(folded)
            )
        ):
            out.append((pid, name))
    return out


@dataclass(frozen=True, slots=True)
class PersonLine:
    """One line of the people list: the person, their articles (originals whose current version
    credits them) and how many of those in each role (one article may count in two roles)."""

    id: int
    name: str
    articles: int
    roles: dict[str, int]


def person_lines(conn: Connection, chosen: list[tuple[int, str]]) -> list[PersonLine]:
    """``chosen`` with their counts, in that order: the articles crediting each person, each role
    and in all, copies left out. Two index-only reads of ``ix_credits_person_id_role_article_id``
    (0011) for the people of one page; the copies' ids come from the partial index of copies.

    Counted over every version's credits, as the index knows no versions: an article whose later
    version dropped the name still counts (the person's page, which joins the current versions,
    does not count it)."""
    if not chosen:
        return []
    ids = [pid for pid, _ in chosen]
    c = credits.c
    copies = select(articles.c.id).where(articles.c.duplicate_of.is_not(None))
    base = select(c.person_id).where(c.person_id.in_(ids), c.article_id.not_in(copies))
    distinct_articles = func.count(func.distinct(c.article_id))
    totals = {
        int(pid): int(n) for pid, n in conn.execute(base.add_columns(distinct_articles).group_by(c.person_id))
    }
    by_role: dict[int, dict[str, int]] = {}
    q = base.add_columns(c.role, distinct_articles).group_by(c.person_id, c.role)
    for pid, role, n in conn.execute(q):
        by_role.setdefault(int(pid), {})[str(role)] = int(n)
    order = {r: i for i, r in enumerate(CREDIT_ROLES)}
    return [
        PersonLine(pid, name, totals.get(pid, 0),
                   dict(sorted(by_role.get(pid, {}).items(), key=lambda kv: order.get(kv[0], 99))))
        for pid, name in chosen
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class PeoplePage:
    """A page of the people list: its lines, the page number, whether there are pages after it,
    and how many people the query matched in all."""

    people: list[PersonLine]
    page: int
    more: bool
    total: int


@dataclass(frozen=True, slots=True)
class SearchView:
    """What the search page shows: the results, the people the words may name (id, name; the one
    named exactly first), and for a person named exactly, their article count and newest articles."""

    results: SearchResults
    named: list[tuple[int, str]]
    person_articles: int = 0
    person_newest: list[Summary] = field(default_factory=list)


#: the newest articles of a person named by a search's words, shown above the results
NAMED_NEWEST = 5


def search_view(conn: Connection, query: SearchQuery) -> SearchView:
    """``search.search_page`` with the people the words name (``search.people_named``): searching a
    reporter's name finds their articles through their credits, which the text index does not hold."""
    found = search.search_page(conn, query)
    if not query.terms or query.offset:
        return SearchView(found, [])
    named = search.people_named(conn, query.terms)
    if not named or named[0][1] not in {"".join(query.terms), *query.terms}:
        return SearchView(found, named)
    flt = ListFilter(person_id=named[0][0])
    newest, _ = list_ids(conn, flt, cursor=None, limit=NAMED_NEWEST)
    return SearchView(found, named, count(conn, flt), summaries(conn, [c.id for c in newest]))


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
    """The home page's numbers: ``stats.archive_counts``, the names ``jinshan stats`` uses."""
    return stats.archive_counts(conn)


def last_runs(conn: Connection, n: int = 5) -> list[dict[str, Any]]:
    return runs.last(conn, n)


__all__ = [
    "MAX_LIMIT",
    "ArchivedAt",
    "ArticleView",
    "Cursor",
    "ListFilter",
    "ListPage",
    "PeoplePage",
    "Person",
    "PersonLine",
    "Reader",
    "SearchView",
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
        self._cache.pop(key, None)
        self._cache[key] = (now, value)
        while len(self._cache) > CACHE_ENTRIES:  # the per-filter totals: the oldest go first
            del self._cache[next(iter(self._cache))]
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

    def window(
        self, flt: ListFilter, *, cursor: Cursor | None = None, before: Cursor | None = None, limit: int = 50
    ) -> ListPage:
        """A list page with its older and newer neighbours (and, for one day, the days around it)."""
        return self._read(lambda c: list_page(c, flt, cursor=cursor, before=before, limit=limit))

    def person_window(
        self,
        person_id: int,
        flt: ListFilter,
        *,
        cursor: Cursor | None = None,
        before: Cursor | None = None,
        limit: int = 50,
    ) -> tuple[Person, ListPage] | None:
        """A person's counts and a page of their list (``flt`` with their id); None when unknown."""

        def work(conn: Connection) -> tuple[Person, ListPage] | None:
            found = person(conn, person_id)
            if found is None:
                return None
            mine = replace(flt, person_id=person_id)
            return found, list_page(conn, mine, cursor=cursor, before=before, limit=limit)

        return self._read(work)

    def api_list(
        self, flt: ListFilter, *, cursor: Cursor | None = None, limit: int = 50
    ) -> tuple[list[dict[str, Any]], Cursor | None, int]:
        """One page of the article JSON, the next page's cursor, and how many articles ``flt``
        selects in all (kept ``cache_s`` seconds per filter, as a client pages through)."""

        def work(conn: Connection) -> tuple[list[dict[str, Any]], Cursor | None]:
            got, nxt = list_ids(conn, flt, cursor=cursor, limit=limit)
            return export_rows(conn, [c.id for c in got]), nxt

        rows, nxt = self._read(work)
        return rows, nxt, self._cached(f"count:{flt!r}", lambda c: count(c, flt))

    def api_search(self, query: SearchQuery) -> tuple[list[dict[str, Any]], search.SearchResults]:
        """The article JSON of a search's page of results, in rank order, and the results."""

        def work(conn: Connection) -> tuple[list[dict[str, Any]], search.SearchResults]:
            found = search.search_page(conn, query)
            return export_rows(conn, [h.article_id for h in found.hits]), found

        return self._read(work)

    def people_list(self, query: str = "", *, page: int = 1, per_page: int = 50) -> PeoplePage:
        """A page of everyone (by pinyin; the sorted list kept ``cache_s`` seconds), or of the people
        whose name contains ``query``, with their counts."""
        matched = matching(self._cached("everyone", everyone), query)
        start = (page - 1) * per_page
        chosen = matched[start : start + per_page]
        lines = self._read(lambda c: person_lines(c, chosen))
        return PeoplePage(lines, page, len(matched) > start + per_page, len(matched))

    def search_view(self, query: SearchQuery) -> SearchView:
        """A page of results with their count, and the people the words may name, with the newest
        articles of one the words name exactly (credit lines are not in the indexed text)."""
        return self._read(lambda c: search_view(c, query))

    def counts(self) -> dict[str, int]:
        """The archive's counts (``stats.archive_counts``; cached)."""
        return dict(self._cached("counts", counts))

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
