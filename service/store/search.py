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

All terms of a query (separated by spaces) must occur, each in the title or the body; ASCII letters
match in either case. The score counts occurrences (title ×4) on both databases. Traditional characters
are not converted: the archive stores Simplified text.
"""

from __future__ import annotations

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
    #: role (``model.CREDIT_ROLES``, e.g. "reporters") → exact person name
    credits: Mapping[str, str] = field(default_factory=dict)
    limit: int = 20
    #: results skipped first (the web view's pages; the CLI asks for the first ``limit``)
    offset: int = 0

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
    ) -> SearchQuery:
        """Split ``query`` on spaces (ASCII or ideographic) and check the options; ``ValueError``
        says which one is wrong."""
        terms = tuple(dict.fromkeys((query or "").split()))
        wanted = {role: name.strip() for role, name in (credits or {}).items() if name and name.strip()}
        for role in wanted:
            if role not in CREDIT_ROLES:
                raise ValueError(f"unknown credit role {role!r}; expected one of {', '.join(CREDIT_ROLES)}")
        if not terms and not wanted:
            raise ValueError("give words to find, or a credit filter (a reporter, a photographer, an editor)")
        if since and until and since > until:
            raise ValueError("the first date (since) is after the last (until)")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"the limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if not 0 <= offset < RANK_WINDOW:
            raise ValueError(f"offset must be between 0 and {RANK_WINDOW - 1}, not {offset}")
        return cls(terms, since, until, wanted, limit, offset)


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

    def to_json(self) -> dict[str, Any]:
        """The JSON form (``search --json``): matches wrapped in 【】, the date in +08:00 like the article JSON."""
        return {
            "url": self.url,
            "title": self.title,
            "published_at": self.published_at.astimezone(CST).isoformat() if self.published_at else None,
            "snippet": render(self.snippet, "【", "】"),
            "score": self.score,
        }


def search(conn: Connection, query: SearchQuery) -> list[SearchHit]:
    """The articles matching ``query``: best match first (then newest), or newest first when there
    are no terms. Raises ``StoreError`` when the index is missing.

    Two steps: rank ids (and scores) first, then read title and body of the winners only, so the
    sort never carries texts (that made a 2-character query on 20,000 articles 4× slower).
    """
    ranked = conn.execute(_ranking(conn, query)).all()
    if not ranked:
        return []
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
    # an article could only vanish between the two reads if rows were deleted, which the store never does
    return [_hit(by_id[r.id], r.score, pattern) for r in ranked if r.id in by_id]


def _ranking(conn: Connection, query: SearchQuery) -> Select[Any]:
    newest = (articles.c.published_at.desc().nulls_last(), articles.c.id.desc())
    if not query.terms:
        stmt = _filters(select(articles.c.id).limit(query.limit).offset(query.offset or None), query)
        return stmt.add_columns(literal(None).label("score")).order_by(*newest)
    # The window: the RANK_WINDOW matches archived last (highest id), filters applied. Walking the
    # index in id order stops after the window, so a common term costs the same as a rare one;
    # ranking every match of a term found in most articles took seconds at 1,000,000.
    docs = _docs(conn)
    doc_id = docs.c[_id_name(conn)]
    window = (
        _filters(select(articles.c.id, articles.c.published_at), query)
        .add_columns(_match_score(conn, query.terms).label("score"))
        .join(docs, doc_id == articles.c.id)
        .where(*_match_conditions(conn, query.terms))
        .order_by(doc_id.desc())
        .limit(RANK_WINDOW)
        .subquery("window")
    )
    return (
        select(window.c.id, window.c.score)
        .order_by(window.c.score.desc(), window.c.published_at.desc().nulls_last(), window.c.id.desc())
        .limit(query.limit)
        .offset(query.offset or None)
    )


def _filters(stmt: Select[Any], query: SearchQuery) -> Select[Any]:
    if query.since is not None:
        stmt = stmt.where(articles.c.published_on >= query.since)
    if query.until is not None:
        stmt = stmt.where(articles.c.published_on <= query.until)
    for role, name in query.credits.items():
        credited = (
            select(credits.c.article_id, credits.c.version_id)
            .join(people, people.c.id == credits.c.person_id)
            .where(people.c.name == name, credits.c.role == role)
        )
        # both: "id IN" lets the planner start from the person (people.name and credits.person_id
        # are indexed) instead of scanning articles; "current version IN" drops old versions' credits
        stmt = stmt.where(
            articles.c.id.in_(credited.with_only_columns(credits.c.article_id)),
            articles.c.current_version_id.in_(credited.with_only_columns(credits.c.version_id)),
        )
    return stmt


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


def _hit(row: Any, score: float | None, pattern: re.Pattern[str] | None) -> SearchHit:
    return SearchHit(
        article_id=int(row.id),
        url=row.url,
        title=row.title,
        published_at=row.published_at,
        score=None if score is None else float(score),
        title_marks=mark(row.title, pattern),
        snippet=snippet(row.body_text, pattern),
    )


__all__ = [
    "SearchHit",
    "SearchQuery",
    "finish_reindex",
    "index_current",
    "mark",
    "refresh_batch",
    "reindex_batch",
    "render",
    "search",
    "snippet",
]
