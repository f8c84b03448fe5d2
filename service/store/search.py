"""Full-text search over the current version of each article (titles and bodies, Chinese included).

Place in the flow: a side index of the store. ``articles.store`` calls ``index_current`` in the
transaction that stores an article, so the index always holds the current version's text;
``reindex`` rebuilds it from ``article_versions``; ``search`` reads it. Nothing here parses HTML.

Chinese has no spaces between words, so word tokenizers do not work; both databases index
character trigrams instead, and a query term matches as a substring:

- SQLite: ``search_documents`` is an FTS5 table with the ``trigram`` tokenizer (SQLite ≥ 3.34),
  rowid = article id. Where migration 0003 found no
  trigram tokenizer it is an ordinary table and every term is scanned with ``instr`` (logged once).
- PostgreSQL: ``search_documents`` is a table with GIN ``gin_trgm_ops`` indexes on title and body,
  matched with ``ILIKE``. pg_trgm only extracts trigrams from CJK text when the database's
  LC_CTYPE is a UTF-8 locale (e.g. ``C.UTF-8``), not under ``C``: there the answers are the same
  but the index cannot help (logged once).

Trigrams cannot find a term shorter than 3 characters (镇江): such terms are matched by ``instr``
(SQLite) or ``strpos`` (PostgreSQL) over the same indexed text: correct, but a scan of every
document (measured with 800-character bodies: 6–8 ms per 1,000 articles on SQLite, 7–14 ms on
PostgreSQL; a date or credit filter narrows it). Not ``LIKE`` on SQLite: FTS5 claims LIKE constraints for itself and, in 3.40 at
least, returns no rows for a pattern of 1–2 CJK characters (it counts bytes, not characters).

A query ranks at most ``RANK_WINDOW`` matches: the ones archived last (highest article id) that
pass the filters. Below that many matches the answer is exact; above, a word found in most articles
costs the same few milliseconds as a rare one instead of ranking a million documents.

Copies (articles with ``duplicate_of``) are folded under their original: a copy's own text is
indexed, and a matching copy stands for its original, one result per original (``include_duplicates``
lists copies as results of their own). ``search_page`` also counts the matches, in the same
statement. Credit filters take a part of a name (张 finds 张三 and 张伟); credit lines are not in the
indexed text, so ``people_named`` tells the archive view whom the words may name.

All terms of a query (separated by spaces) must occur, each in the title or the body; ASCII letters
match in either case. The score counts occurrences (title ×4) on both databases. Traditional characters
are not converted: the archive stores Simplified text.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import sqlite3
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    bindparam,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from service.errors import StoreError
from service.model import CREDIT_ROLES
from service.store.schema import article_versions, articles, credits, people
from service.text.dates import CST

log = logging.getLogger(__name__)

TABLE = "search_documents"
#: SQLite's first release with the FTS5 trigram tokenizer
TRIGRAM_SQLITE = (3, 34, 0)
#: shorter terms have no trigram to look up: they are scanned
MIN_TRIGRAM = 3
#: one title occurrence weighs as much as this many body occurrences
TITLE_WEIGHT = 4.0
SNIPPET_CHARS = 60
REINDEX_BATCH = 1000
MAX_LIMIT = 1000
#: a query ranks at most this many matches, the ones archived last (see ``_ranking``)
RANK_WINDOW = 2000
#: the GIN indexes migration 0003 creates on PostgreSQL
PG_INDEXES = ("ix_search_documents_title_trgm", "ix_search_documents_body_trgm")

# The physical table differs per dialect (FTS5 has no declared id column, its id is the rowid),
# so lightweight ``table()`` constructs name only what the queries use.
_SQLITE_DOCS = table(TABLE, column("rowid"), column("version_id"), column("title"), column("body"))
_PG_DOCS = table(TABLE, column("article_id"), column("version_id"), column("title"), column("body"))

# (re)fill the documents of articles lo..hi from their current versions: one statement, so the
# text never passes through Python (the reindex stays in constant memory whatever the batch)
_FILL = (
    "INSERT INTO search_documents ({id}, version_id, title, body) "
    "SELECT a.id, v.id, v.title, v.body_text FROM articles a "
    "JOIN article_versions v ON v.id = a.current_version_id WHERE a.id BETWEEN :lo AND :hi"
)
_CLEAR = "DELETE FROM search_documents WHERE {id} BETWEEN :lo AND :hi"

Segments = tuple[tuple[str, bool], ...]
"""Text cut into runs; True marks a run that matched a query term."""


def _id_name(conn: Connection) -> str:
    return "rowid" if conn.dialect.name == "sqlite" else "article_id"


def _docs(conn: Connection) -> Any:
    return _SQLITE_DOCS if conn.dialect.name == "sqlite" else _PG_DOCS


# --- keeping the index current -----------------------------------------------------------------


#: the flag a store sets on the article row it writes anyway (the INSERT of a new article, the
#: UPDATE that moves the current version): its search document may be stale, ``refresh_batch``
#: brings it up to date. No statement of its own on the write path (0009).
PENDING = {"search_pending": True}

_PENDING_IDS = select(articles.c.id).where(articles.c.search_pending).limit(bindparam("batch", type_=Integer))
_CLEAR_PENDING = (
    update(articles).where(articles.c.id.in_(bindparam("ids", expanding=True))).values(search_pending=False)
)


def note_pending(conn: Connection, article_id: int) -> None:
    """Flag ``article_id``'s search document as maybe stale, in the caller's transaction (a writer
    that does not write the article row itself; a store sets ``PENDING`` on the row it writes)."""
    conn.execute(update(articles).where(articles.c.id == article_id).values(PENDING))


def refresh_batch(conn: Connection, *, batch: int = REINDEX_BATCH) -> tuple[int, int]:
    """Index up to ``batch`` flagged articles, in the caller's write transaction (``Store``
    commits each batch on its own, so SQLite's write lock is held briefly); (how many flags were
    taken, how many documents were rewritten). Safe from several processes."""
    ids = [int(i) for i in conn.execute(_PENDING_IDS, {"batch": batch}).scalars()]
    if not ids:
        return 0, 0
    # the flags first: on PostgreSQL that locks the rows, so a store flagging one of them again
    # meanwhile waits for this commit and its flag stays (cleared after, it would be lost)
    conn.execute(_CLEAR_PENDING, {"ids": ids})
    return len(ids), _index_stale(conn, ids)


def index_current(conn: Connection, article_id: int) -> bool:
    """Make the search document of ``article_id`` its current version's text, in the caller's
    transaction; True when it was (re)written, False when it already was current.

    Two primary-key probes when nothing changed (the common revisit), so calling it on every store
    is cheap.
    """
    docs = _docs(conn)
    doc_id = docs.c[_id_name(conn)]
    current = conn.execute(select(articles.c.current_version_id).where(articles.c.id == article_id)).scalar()
    indexed = conn.execute(select(docs.c.version_id).where(doc_id == article_id)).scalar()
    if current is None or current == indexed:
        return False
    _refill(conn, article_id, article_id)
    return True


def _index_stale(conn: Connection, ids: list[int]) -> int:
    """``index_current`` for many articles at once: which of ``ids`` are stale (one join), then one
    DELETE and one INSERT … SELECT for those; how many were rewritten. Four statements a batch,
    where one article at a time took four an article."""
    name = _id_name(conn)
    stale = [int(i) for i in conn.execute(_stale_stmt(name), {"ids": ids}).scalars()]
    if stale:
        conn.execute(_clear_ids_stmt(name), {"ids": stale})
        conn.execute(_fill_ids_stmt(name), {"ids": stale})
    return len(stale)


@functools.cache
def _stale_stmt(name: str) -> Any:
    return text(
        f"SELECT a.id FROM articles a LEFT JOIN {TABLE} d ON d.{name} = a.id WHERE a.id IN :ids "
        "AND a.current_version_id IS NOT NULL AND (d.version_id IS NULL OR d.version_id <> a.current_version_id)"
    ).bindparams(bindparam("ids", expanding=True))


@functools.cache
def _clear_ids_stmt(name: str) -> Any:
    return text(f"DELETE FROM {TABLE} WHERE {name} IN :ids").bindparams(bindparam("ids", expanding=True))


@functools.cache
def _fill_ids_stmt(name: str) -> Any:
    return text(_FILL.format(id=name).replace("BETWEEN :lo AND :hi", "IN :ids")).bindparams(
        bindparam("ids", expanding=True)
    )


def _refill(conn: Connection, lo: int, hi: int) -> int:
    """Replace the documents of article ids lo..hi; how many were written."""
    name = _id_name(conn)
    conn.execute(text(_CLEAR.format(id=name)), {"lo": lo, "hi": hi})
    return int(conn.execute(text(_FILL.format(id=name)), {"lo": lo, "hi": hi}).rowcount)


def reindex_batch(conn: Connection, *, after: int, batch: int = REINDEX_BATCH) -> tuple[int, int | None]:
    """One step of the rebuild of the whole index from the current versions (``Store.reindex``):
    the documents of the next ``batch`` article ids after ``after`` rewritten; (how many, the last
    id of the batch, None when there was none left).

    ``Store`` runs each batch in its own short write transaction, so memory is constant, the daemon
    can keep storing between batches (a concurrent store indexes its own article in its own
    transaction, so no batch can leave a stale document), and an interrupted rebuild simply leaves
    the batches not yet done as they were; ``finish_reindex`` ends it.
    """
    ids = (
        conn.execute(select(articles.c.id).where(articles.c.id > after).order_by(articles.c.id).limit(batch))
        .scalars()
        .all()
    )
    if not ids:
        return 0, None
    # the range starts just after the previous batch, so documents of vanished ids go too
    return _refill(conn, after + 1, ids[-1]), ids[-1]


def finish_reindex(conn: Connection, *, last: int) -> None:
    """The end of a rebuild whose last batch ended at article id ``last``: the documents of later
    ids go, and the index is compacted."""
    conn.execute(text(f"DELETE FROM {TABLE} WHERE {_id_name(conn)} > :last"), {"last": last})
    if _mode(conn) == "fts5":
        # merge the b-trees the rebuild left behind: later queries read one segment
        conn.execute(text(f"INSERT INTO {TABLE}({TABLE}) VALUES ('optimize')"))
    elif conn.dialect.name == "postgresql":
        # the rebuilt rows sit in the GIN pending lists (scanned linearly by every query) and the
        # planner has no statistics yet: 63 ms a query instead of 1.2 ms (5,000 articles, measured)
        # until autovacuum would come by
        for index in PG_INDEXES:
            conn.execute(text("SELECT gin_clean_pending_list(CAST(:i AS regclass))"), {"i": index})
        conn.execute(text(f"ANALYZE {TABLE}"))


# --- which engine we have ----------------------------------------------------------------------

_MODES: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _mode(conn: Connection) -> str:
    """Mode "fts5" or "scan" (SQLite: the table's SQL says which one 0003 could create), "trgm"
    (PostgreSQL); looked up once per engine, and a degraded set-up is logged then."""
    mode = _MODES.get(conn.engine)
    if mode is None:
        mode = _MODES[conn.engine] = _detect(conn)
    return mode


def _detect(conn: Connection) -> str:
    if conn.dialect.name != "sqlite":
        if not conn.execute(text("SELECT show_trgm('镇江市')")).scalar():
            log.warning(
                "search: pg_trgm finds no trigrams in Chinese text under this database's LC_CTYPE "
                "(C?): results stay correct, but every search scans; create the database with a "
                "UTF-8 locale such as C.UTF-8 for indexed search"
            )
        return "trgm"
    sql = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": TABLE}).scalar()
    if sql is None:
        raise StoreError("the database has no search index: run `jinshan db upgrade`")
    if "fts5" in sql.lower():
        if sqlite3.sqlite_version_info < TRIGRAM_SQLITE:
            raise StoreError(
                f"the search index needs SQLite ≥ 3.34 (FTS5 trigram), this is {sqlite3.sqlite_version}"
            )
        return "fts5"
    log.warning(
        "search: the index was built without the FTS5 trigram tokenizer (SQLite %s at migration; "
        "needs ≥ 3.34): every search scans the archive; `jinshan db reindex` does not change this",
        sqlite3.sqlite_version,
    )
    return "scan"


# --- searching ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to look for: ``terms`` (all must occur), filters, and how many results at most."""

    terms: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None
    #: role (``model.CREDIT_ROLES``, e.g. "reporters") → a name or part of one (张 finds 张三 and 张伟)
    credits: Mapping[str, str] = field(default_factory=dict)
    limit: int = 20
    #: results skipped first (the web view's pages; the CLI asks for the first ``limit``)
    offset: int = 0
    #: the API's filters: a channel, a person by id (in ``role``, or in any role)
    channel: str | None = None
    person_id: int | None = None
    role: str | None = None
    #: copies (articles with ``duplicate_of``) are folded under their original unless this is set
    include_duplicates: bool = False

    @classmethod
    def build(
        cls,
        query: str | None,
        *,
        since: date | None = None,
        until: date | None = None,
        credits: Mapping[str, str] | None = None,
        limit: int = 20,
        offset: int = 0,
        channel: str | None = None,
        person_id: int | None = None,
        role: str | None = None,
        include_duplicates: bool = False,
    ) -> SearchQuery:
        """Split ``query`` on spaces (ASCII or ideographic) and check the options; ``ValueError``
        says which one is wrong."""
        terms = tuple(dict.fromkeys((query or "").split()))
        wanted = {role: name.strip() for role, name in (credits or {}).items() if name and name.strip()}
        for name in [*wanted, *([role] if role else [])]:
            if name not in CREDIT_ROLES:
                raise ValueError(f"unknown credit role {name!r}; expected one of {', '.join(CREDIT_ROLES)}")
        if not terms and not wanted and person_id is None:
            raise ValueError("give words to find, or a credit filter (a reporter, a photographer, an editor)")
        if since and until and since > until:
            raise ValueError("the first date (since) is after the last (until)")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"the limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if not 0 <= offset < RANK_WINDOW:
            raise ValueError(f"offset must be between 0 and {RANK_WINDOW - 1}, not {offset}")
        return cls(terms, since, until, wanted, limit, offset, channel, person_id, role, include_duplicates)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the article, its current title with the matches marked, a snippet of the body
    around the first match, and the score (higher is better; None without a query)."""

    article_id: int
    url: str
    title: str
    published_at: datetime | None
    score: float | None
    title_marks: Segments
    snippet: Segments
    #: copies folded under this article (not listed as results of their own)
    copies: int = 0

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``search --json``): matches wrapped in 【】, the date in +08:00 like the article JSON."""
        return {
            "url": self.url,
            "title": self.title,
            "published_at": self.published_at.astimezone(CST).isoformat() if self.published_at else None,
            "snippet": render(self.snippet, "【", "】"),
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class SearchResults:
    """A page of results and how many articles match in all: exact below ``RANK_WINDOW``; with
    words, at ``RANK_WINDOW`` it means "at least that many" (``capped``), as only that many are
    ranked."""

    hits: list[SearchHit]
    total: int
    capped: bool


def search(conn: Connection, query: SearchQuery) -> list[SearchHit]:
    """The articles matching ``query``: best match first (then newest), or newest first when there
    are no terms. Raises ``StoreError`` when the index is missing."""
    return search_page(conn, query).hits


def search_page(conn: Connection, query: SearchQuery) -> SearchResults:
    """``search`` with the number of matches (a window count over the same ranking, so the same
    statement: no second walk of the index).

    Two steps: rank ids (and scores) first, then read title and body of the winners only, so the
    sort never carries texts (that made a 2-character query on 20,000 articles 4× slower).
    """
    ranked = conn.execute(_ranking(conn, query)).all()
    if not ranked and query.offset:
        # a page past the end: the count alone, from the first page
        first = dataclasses.replace(query, offset=0, limit=1)
        ranked = conn.execute(_ranking(conn, first)).all()
        return SearchResults([], int(ranked[0].total) if ranked else 0, _capped(query, ranked))
    if not ranked:
        return SearchResults([], 0, False)
    return SearchResults(_hits(conn, query, ranked), int(ranked[0].total), _capped(query, ranked))


def _capped(query: SearchQuery, ranked: Any) -> bool:
    """Whether the window was full (``RANK_WINDOW`` matching rows, copies included): more articles
    match than were ranked."""
    return bool(query.terms) and bool(ranked) and int(ranked[0].members) >= RANK_WINDOW


def _hits(conn: Connection, query: SearchQuery, ranked: Any) -> list[SearchHit]:
    rows = conn.execute(
        select(
            articles.c.id,
            articles.c.url,
            articles.c.published_at,
            article_versions.c.title,
            article_versions.c.body_text,
        )
        .join(article_versions, article_versions.c.id == articles.c.current_version_id)
        .where(articles.c.id.in_([r.id for r in ranked]))
    )
    by_id = {row.id: row for row in rows}
    pattern = _pattern(query.terms)
    dup = articles.c.duplicate_of
    grouped = select(dup, func.count()).where(dup.in_(list(by_id))).group_by(dup)
    copies = {int(i): int(n) for i, n in conn.execute(grouped)}
    # an article could only vanish between the two reads if rows were deleted, which the store never does
    return [_hit(by_id[r.id], r.score, pattern, copies.get(r.id, 0)) for r in ranked if r.id in by_id]


def _ranking(conn: Connection, query: SearchQuery) -> Select[Any]:
    newest = (articles.c.published_at.desc().nulls_last(), articles.c.id.desc())
    total = func.count().over().label("total")  # before LIMIT: every match (of the window)
    if not query.terms:
        stmt = _filters(select(articles.c.id).limit(query.limit).offset(query.offset or None), query)
        return stmt.add_columns(literal(None).label("score"), total, total.element.label("members")).order_by(
            *newest
        )
    # The window: the RANK_WINDOW matches archived last (highest id), filters applied. Walking the
    # index in id order stops after the window, so a common term costs the same as a rare one;
    # ranking every match of a term found in most articles took seconds at 1,000,000.
    docs = _docs(conn)
    doc_id = docs.c[_id_name(conn)]
    # a copy's own text is indexed; a matching copy stands for its original (one result per group,
    # scored by its best member), unless copies are asked for as results of their own
    group = (
        articles.c.id if query.include_duplicates else func.coalesce(articles.c.duplicate_of, articles.c.id)
    )
    window = (
        _filters(select(group.label("id"), articles.c.published_at), query, fold=True)
        .add_columns(_match_score(conn, query.terms).label("score"))
        .join(docs, doc_id == articles.c.id)
        .where(*_match_conditions(conn, query.terms))
        .order_by(doc_id.desc())
        .limit(RANK_WINDOW)
        .subquery("window")
    )
    score = func.max(window.c.score).label("score")
    # the window's rows, copies included: a full window means more matches than were ranked
    members = func.sum(func.count()).over().label("members")
    return (
        select(window.c.id, score, total, members)
        .group_by(window.c.id)
        .order_by(score.desc(), func.max(window.c.published_at).desc().nulls_last(), window.c.id.desc())
        .limit(query.limit)
        .offset(query.offset or None)
    )


def _filters(stmt: Select[Any], query: SearchQuery, *, fold: bool = False) -> Select[Any]:
    """``stmt`` with the query's filters; copies are left out unless asked for, or ``fold``ed (the
    caller groups them under their original)."""
    if query.since is not None:
        stmt = stmt.where(articles.c.published_on >= query.since)
    if query.until is not None:
        stmt = stmt.where(articles.c.published_on <= query.until)
    if query.channel is not None:
        stmt = stmt.where(articles.c.channel == query.channel)
    if not query.include_duplicates and not fold:
        stmt = stmt.where(articles.c.duplicate_of.is_(None))
    credited_by: list[tuple[ColumnElement[bool], ...]] = [
        # a part of a name: the people table is small (a scan of it costs less than a query's parse)
        (people.c.name.contains(name, autoescape=True), credits.c.role == role)
        for role, name in query.credits.items()
    ]
    if query.person_id is not None:
        in_role = () if query.role is None else (credits.c.role == query.role,)
        credited_by.append((people.c.id == query.person_id, *in_role))
    for conditions in credited_by:
        credited = (
            select(credits.c.article_id, credits.c.version_id)
            .join(people, people.c.id == credits.c.person_id)
            .where(*conditions)
        )
        # both: "id IN" lets the planner start from the person (people.name and credits.person_id
        # are indexed) instead of scanning articles; "current version IN" drops old versions' credits
        stmt = stmt.where(
            articles.c.id.in_(credited.with_only_columns(credits.c.article_id)),
            articles.c.current_version_id.in_(credited.with_only_columns(credits.c.version_id)),
        )
    return stmt


def people_named(conn: Connection, terms: tuple[str, ...], *, limit: int = 5) -> list[tuple[int, str]]:
    """People a search's words may mean, so the page can offer their articles (credit lines are
    not in the indexed text): a person named exactly by the words (joined, or one of them) first,
    then people whose name contains a word of two characters or more; at most ``limit``."""
    exact = {"".join(terms), *terms} - {""}
    if not exact:
        return []
    partial = [people.c.name.contains(t, autoescape=True) for t in terms if len(t) >= 2]
    q = select(people.c.id, people.c.name).where(or_(people.c.name.in_(sorted(exact)), *partial))
    found = [(int(i), str(n)) for i, n in conn.execute(q.order_by(people.c.id).limit(limit * 10))]
    found.sort(key=lambda p: (p[1] not in exact, len(p[1]), p[0]))
    return found[:limit]


def _match_conditions(conn: Connection, terms: tuple[str, ...]) -> list[ColumnElement[bool]]:
    docs, mode = _docs(conn), _mode(conn)
    out: list[ColumnElement[bool]] = []
    if mode == "fts5":
        long_terms = [t for t in terms if len(t) >= MIN_TRIGRAM]
        if long_terms:
            match = literal_column(TABLE).op("MATCH", is_comparison=True)(_fts_query(long_terms))
            out.append(match)
        terms = tuple(t for t in terms if len(t) < MIN_TRIGRAM)
    for t in terms:
        out.append(or_(_contains(conn, docs.c.title, t), _contains(conn, docs.c.body, t)))
    return out


def _fts_query(terms: list[str]) -> str:
    # each term a quoted FTS5 string (a " inside doubled): operators in user text stay literal
    return " ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _contains(conn: Connection, col: Any, term: str) -> ColumnElement[bool]:
    if conn.dialect.name == "sqlite":
        # instr, not LIKE: see the module docstring (FTS5 answers short CJK LIKE patterns wrongly)
        return func.instr(*_folded(col, term)) > 0
    if len(term) < MIN_TRIGRAM:
        # no index can help: strpos skips the lower-casing of every text that ILIKE does
        return func.strpos(*_folded(col, term)) > 0
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    found: ColumnElement[bool] = col.ilike(f"%{escaped}%", escape="\\")
    return found


def _match_score(conn: Connection, terms: tuple[str, ...]) -> ColumnElement[Any]:
    """Occurrences of the terms, a title one weighing ``TITLE_WEIGHT``: the same score on both
    databases. Not FTS5's bm25: it counts the documents of each phrase over the whole index on
    every query (130 ms for a word in most of 1,000,000 articles), whatever the window."""
    docs = _docs(conn)
    parts = [TITLE_WEIGHT * _occurrences(docs.c.title, t) + _occurrences(docs.c.body, t) for t in terms]
    total = parts[0]
    for p in parts[1:]:
        total = total + p
    return total


def _occurrences(col: Any, term: str) -> ColumnElement[Any]:
    """How often ``term`` occurs in ``col`` (case-insensitive for ASCII), in SQL on both databases."""
    text_, term_ = _folded(col, term)
    return (func.length(col) - func.length(func.replace(text_, term_, ""))) / float(len(term))


def _folded(col: Any, term: str) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """``col`` and ``term`` lower-cased in SQL when the term has letters with a case; a Chinese term
    has none, and skipping lower() on every body saves a copy of each text scanned."""
    if term.lower() == term.upper():
        return col, literal(term)
    return func.lower(col), func.lower(literal(term))


# --- snippets ----------------------------------------------------------------------------------


def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # longest first, so a term that contains another is marked whole
    alternatives = sorted(terms, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in alternatives), re.IGNORECASE)


def mark(text_: str, pattern: re.Pattern[str] | None) -> Segments:
    """``text_`` cut into runs, the matches of ``pattern`` flagged True."""
    if pattern is None:
        return ((text_, False),) if text_ else ()
    out: list[tuple[str, bool]] = []
    pos = 0
    for m in pattern.finditer(text_):
        if m.start() > pos:
            out.append((text_[pos : m.start()], False))
        out.append((m.group(), True))
        pos = m.end()
    if pos < len(text_):
        out.append((text_[pos:], False))
    return tuple(out)


def snippet(body: str, pattern: re.Pattern[str] | None, width: int = SNIPPET_CHARS) -> Segments:
    """About ``width`` characters of ``body`` (whitespace collapsed) centred on its first match, the
    body's start when nothing matches there (e.g. a title-only match); "…" where text was cut."""
    flat = " ".join(body.split())
    first = pattern.search(flat) if pattern else None
    start = 0
    if first is not None:
        start = max(0, min(first.start() - (width - len(first.group())) // 2, len(flat) - width))
    end = min(len(flat), max(start + width, first.end() if first else 0))
    runs = list(mark(flat[start:end], pattern))
    if start > 0:
        runs.insert(0, ("…", False))
    if end < len(flat):
        runs.append(("…", False))
    return tuple(runs)


def render(runs: Segments, open_: str, close: str, escape: Callable[[str], str] = lambda s: s) -> str:
    """The runs as one string, matches wrapped in ``open_`` … ``close``, other text ``escape``d."""
    return "".join(f"{open_}{escape(t)}{close}" if hit else escape(t) for t, hit in runs)


def _hit(row: Any, score: float | None, pattern: re.Pattern[str] | None, copies: int = 0) -> SearchHit:
    return SearchHit(
        article_id=int(row.id),
        url=row.url,
        title=row.title,
        published_at=row.published_at,
        score=None if score is None else float(score),
        title_marks=mark(row.title, pattern),
        snippet=snippet(row.body_text, pattern),
        copies=int(copies),
    )


__all__ = [
    "SearchHit",
    "SearchQuery",
    "SearchResults",
    "finish_reindex",
    "index_current",
    "mark",
    "refresh_batch",
    "reindex_batch",
    "render",
    "search",
    "snippet",
]
