"""The tables of the archive, as SQLAlchemy Core metadata: the shape the migrations lead to.

``migrations/versions`` builds exactly this schema step by step (a test compares them), so the
schema is changed by adding a migration and updating this file together. Store code (``repo.py``,
``dedup.py``) reads and writes through these ``Table`` objects; nothing here does I/O.

    urls              the frontier: one row per canonical URL (state, due time, lease, validators)
    fetches           every HTTP exchange, with where its bytes sit in the WARC archive
    runs              each daemon cycle or backfill, with its counters
    articles          one row per article: identity (url_key, site_id), pointer to the current version
    article_versions  each distinct title/body seen for an article (never overwritten)
    article_urls      aliases: other URLs under which the same article was found
    people, credits   names and their role in a version (reporters, editors, …) in page order
    images            images of a version, in page order, with captions
    url_state_counts  how many URLs are in each state (kept by triggers, 0006)
    simhash_index     SimHash fingerprints keyed by pairs of blocks, for near-duplicate lookup (0002, 0005)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    literal_column,
    text,
)
from sqlalchemy.types import DateTime, TypeDecorator

#: naming convention so constraint names are the same on SQLite and PostgreSQL (migrations need names)
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

#: BIGINT ids on PostgreSQL; on SQLite only INTEGER PRIMARY KEY is the auto-incrementing rowid
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both databases.

    SQLite has no time zone type: values are stored as naive UTC, so text order is time order,
    and come back aware. Naive input is refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the store takes aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Any:
        """On SQLite, the text SQLAlchemy's ``DATETIME`` writes for the naive UTC value
        (``YYYY-MM-DD HH:MM:SS.ffffff``), made in one step: the store converts about fifteen times
        per article, and the two layers cost more than the statement's own conversion."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError(f"naive datetime {value!r}: the store takes aware datetimes only")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if not isinstance(value, datetime):
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


#: politeness shared across processes (see service/store/budget.py, migration 0006); times are
#: seconds since the epoch
host_budgets = Table(
    "host_budgets",
    metadata,
    Column("host", String(200), primary_key=True),
    Column("next_start", Float, nullable=False),
    Column("crawl_delay", Float, nullable=False),
    Column("hold_until", Float, nullable=False),
    Column("hold_reason", String(64), nullable=False),
)

host_requests = Table(
    "host_requests",
    metadata,
    _id(),
    Column("host", String(200), nullable=False, index=True),
    Column("holder", String(100), nullable=False),
    Column("started_at", Float, nullable=False),
    # NULL once the request ended; a request whose process died stops counting at expires_at
    Column("expires_at", Float),
)


runs = Table(
    "runs",
    metadata,
    _id(),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("params", JSON, nullable=False),
    Column("counters", JSON, nullable=False),
    Column("error", Text),
    Column("started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
)

articles = Table(
    "articles",
    metadata,
    _id(),
    Column("url_key", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("site_id", String(200), unique=True),
    Column("duplicate_of", Id, ForeignKey("articles.id")),
    Column("current_version_id", Id),
    Column("version", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("simhash", BigInteger),
    Column("published_at", UtcDateTime),
    Column("published_on", Date, index=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("last_changed_at", UtcDateTime, nullable=False),
    Column("gone_at", UtcDateTime),
    # the current version's channel, kept beside it for the archive view's channel pages (0007)
    Column("channel", Text),
    # its search document may be stale (see service/store/search.py; 0009, a table in 0004)
    Column("search_pending", Boolean, nullable=False, server_default=false()),
    Index("ix_articles_published_at_id", "published_at", "id"),
    Index("ix_articles_channel_published_at_id", "channel", "published_at", "id"),
    Index(
        "ix_articles_duplicate_of",
        "duplicate_of",
        sqlite_where=text("duplicate_of IS NOT NULL"),
        postgresql_where=text("duplicate_of IS NOT NULL"),
    ),
    #: only the flagged articles: ``search.refresh_batch`` reads them without a scan (0009)
    Index(
        "ix_articles_search_pending",
        "id",
        sqlite_where=text("search_pending = 1"),
        postgresql_where=text("search_pending"),
    ),
)

urls = Table(
    "urls",
    metadata,
    _id(),
    Column("url_key", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("found_on", Text),
    Column("published_on", Date),
    # what an article's checks are scheduled from: its publication time, or its first-seen time (0011)
    Column("published_at", UtcDateTime),
    # while "fetching", due_at is the end of the lease: one indexed column decides what is claimable
    Column("due_at", UtcDateTime),
    Column("lease_until", UtcDateTime),
    Column("leased_by", String(100)),
    Column("attempts", Integer, nullable=False),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("payload_digest", String(100)),
    Column("article_id", Id, ForeignKey("articles.id")),
    Column("last_fetched_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

#: a claim reads its rows in this order and stops at its limit: no sort of the due set (0006).
#: Partial: finished URLs (due_at NULL, most of a mature frontier) are never claimed.
Index("ix_urls_claim", urls.c.priority.desc(), urls.c.due_at, urls.c.id,
      sqlite_where=urls.c.due_at.is_not(None), postgresql_where=urls.c.due_at.is_not(None))  # fmt: skip

#: the states looked up by state, alone (0010; a full index on ``state`` made each claim rewrite
#: a scattered index page per URL): leases, and the refused pages ``jinshan reparse`` walks.
#: Queries spell the state as a literal (``state_is``), so the planner sees the condition holds.
Index("ix_urls_fetching", urls.c.leased_by, sqlite_where=text("state = 'fetching'"),
      postgresql_where=text("state = 'fetching'"))  # fmt: skip
Index("ix_urls_not_article", urls.c.id, sqlite_where=text("state = 'not_article'"),
      postgresql_where=text("state = 'not_article'"))  # fmt: skip


def state_is(state: str) -> Any:
    """``urls.state = '<state>'`` with the state inline, not a bound parameter: a partial index on
    that state then serves the query (a planner cannot tell what a parameter will hold)."""
    if not state.isidentifier():
        raise ValueError(f"not a state: {state!r}")
    return urls.c.state == literal_column(f"'{state}'")


#: the frequent errors of ``jinshan stats``: only URLs that hold an error are indexed (0006)
Index("ix_urls_errors", urls.c.state, urls.c.last_error, sqlite_where=urls.c.last_error.is_not(None),
      postgresql_where=urls.c.last_error.is_not(None))  # fmt: skip

#: URLs per state, kept by triggers on ``urls`` (migration 0006 creates them, dialect by dialect):
#: the counts are read, never counted
url_state_counts = Table(
    "url_state_counts",
    metadata,
    Column("state", String(16), primary_key=True),
    Column("n", BigInteger, nullable=False),
)

fetches = Table(
    "fetches",
    metadata,
    _id(),
    Column("url_id", Id, ForeignKey("urls.id"), nullable=False),
    Column("run_id", Id, ForeignKey("runs.id")),
    Column("status", Integer),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("warc_file", Text),
    Column("warc_offset", BigInteger),
    Column("warc_length", BigInteger),
    Column("payload_digest", String(100)),
    Column("error", Text),
    Column("elapsed_s", Float),
    # replaying the same exchange (same URL, same instant) records it once
    UniqueConstraint("url_id", "fetched_at"),
)

article_versions = Table(
    "article_versions",
    metadata,
    _id(),
    Column("article_id", Id, ForeignKey("articles.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_hash", String(64), nullable=False),
    Column("content_hash", String(64), nullable=False, index=True),
    Column("simhash", BigInteger),
    Column("title", Text, nullable=False),
    Column("subtitle", Text),
    Column("body_text", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("url_id", Id, ForeignKey("urls.id")),
    Column("fetch_id", Id, ForeignKey("fetches.id")),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("article_id", "version_hash"),
)

#: the site's changes, newest first (the web view's changes page, 0011): edits are the versions
#: after the first, deletions the articles marked gone; only those rows are indexed
Index("ix_article_versions_changes", article_versions.c.first_seen_at,
      sqlite_where=article_versions.c.version > 1, postgresql_where=article_versions.c.version > 1)  # fmt: skip
Index("ix_articles_gone_at", articles.c.gone_at, sqlite_where=articles.c.gone_at.is_not(None),
      postgresql_where=articles.c.gone_at.is_not(None))  # fmt: skip

article_urls = Table(
    "article_urls",
    metadata,
    _id(),
    Column("article_id", Id, ForeignKey("articles.id"), nullable=False, index=True),
    Column("url_key", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    # which rung of deduplication matched: "site_id", "content" or "near"
    Column("reason", String(16), nullable=False),
    Column("distance", Integer),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

people = Table(
    "people",
    metadata,
    _id(),
    Column("name", String(200), nullable=False, unique=True),
)

credits = Table(
    "credits",
    metadata,
    _id(),
    Column("article_id", Id, ForeignKey("articles.id"), nullable=False, index=True),
    Column("version_id", Id, ForeignKey("article_versions.id"), nullable=False),
    Column("person_id", Id, ForeignKey("people.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    UniqueConstraint("version_id", "role", "position"),
    # a person's current credits from the index alone (0007; it replaced the person_id index)
    Index("ix_credits_person_id_version_id", "person_id", "version_id"),
    # the people list's counts by role from the index alone (0011)
    Index("ix_credits_person_id_role_article_id", "person_id", "role", "article_id"),
)

images = Table(
    "images",
    metadata,
    _id(),
    Column("article_id", Id, ForeignKey("articles.id"), nullable=False, index=True),
    Column("version_id", Id, ForeignKey("article_versions.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("url", Text, nullable=False),
    Column("caption", Text, nullable=False),
    UniqueConstraint("version_id", "position"),
)

# Near-duplicate index: one row per (pair of blocks, fingerprint, article). ``key`` packs the pair
# number and the pair's 25 or 26 bits into one integer (service.text.simhash.index_keys), so a
# lookup is one ``key IN (k0, …, k9)`` probe of the primary key, which also covers the fingerprint
# and article: no table rows are read. Migration 0002 built it with 4 bands, 0005 with pairs.
simhash_index = Table(
    "simhash_index",
    metadata,
    Column("key", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", BigInteger, primary_key=True, autoincrement=False),
    Column("article_id", Id, ForeignKey("articles.id"), primary_key=True, autoincrement=False),
    # SQLite: the primary key is the table (no rowid b-tree beside it): one b-tree to write and probe
    sqlite_with_rowid=False,
)

#: resources archived with pages: images, stylesheets, fonts, e-paper scans (0011)
resources = Table(
    "resources",
    metadata,
    _id(),
    Column("url_key", Text, nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("url_id", Id, ForeignKey("urls.id"), index=True),
    Column("kind", String(16), nullable=False),
    # "pending" (in the frontier), "archived", or "missing" (``why_not`` says why)
    Column("status", String(16), nullable=False),
    Column("why_not", Text),
    Column("http_status", Integer),
    Column("content_type", String(200)),
    Column("size", BigInteger),
    Column("payload_digest", String(100), index=True),
    Column("warc_file", Text),
    Column("warc_offset", BigInteger),
    Column("warc_length", BigInteger),
    # the record is a revisit: the payload sits in the record of another capture of the same digest
    Column("revisit", Boolean, nullable=False, server_default=false()),
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime),
    Column("checked_at", UtcDateTime),
)

#: which page (its frontier URL: an article's URL holds all its pages) uses which resource (0011)
page_resources = Table(
    "page_resources",
    metadata,
    Column("page_url_id", Id, ForeignKey("urls.id"), primary_key=True, autoincrement=False),
    Column("resource_id", Id, ForeignKey("resources.id"), primary_key=True, autoincrement=False, index=True),
    Column("first_seen_at", UtcDateTime, nullable=False),
)

#: every response and revisit record of the WARC files by URL and time, read from the files (0011):
#: the replay's index (what pywb calls a CDX index)
captures = Table(
    "captures",
    metadata,
    _id(),
    Column("url_key", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("captured_at", UtcDateTime, nullable=False),
    Column("status", Integer),
    Column("content_type", String(200)),
    Column("record_type", String(16), nullable=False),
    Column("payload_digest", String(100), index=True),
    Column("warc_file", Text, nullable=False),
    Column("warc_offset", BigInteger, nullable=False),
    Column("warc_length", BigInteger, nullable=False),
    UniqueConstraint("warc_file", "warc_offset"),
    Index("ix_captures_url_key_captured_at", "url_key", "captured_at"),
)

#: how far each WARC file has been read into ``captures`` (0011)
capture_files = Table(
    "capture_files",
    metadata,
    Column("warc_file", Text, primary_key=True),
    Column("indexed_to", BigInteger, nullable=False),
)
