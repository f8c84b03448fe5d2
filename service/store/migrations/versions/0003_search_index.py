"""Search index: the current title and body of every article, indexed by character trigrams.

SQLite: an FTS5 virtual table with the ``trigram`` tokenizer (SQLite ≥ 3.34 with FTS5; an older
library gets an ordinary table that searches scan, with a log line). PostgreSQL: a table with GIN
``gin_trgm_ops`` indexes on title and body (pg_trgm is a trusted extension since PostgreSQL 13, so
the database owner may create it). Both are filled from the articles already stored, so an upgraded
archive is searchable at once; ``service/store/search.py`` keeps them current afterwards.

The SQL is written out here rather than imported from ``search.py``, so this revision keeps doing
what it did when the code moves on.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

_SOURCE = (
    "SELECT a.id, v.id, v.title, v.body_text FROM articles a "
    "JOIN article_versions v ON v.id = a.current_version_id"
)


def _has_trigram(bind: sa.Connection) -> bool:
    if sqlite3.sqlite_version_info < (3, 34, 0):
        return False
    return bool(bind.exec_driver_sql("SELECT sqlite_compileoption_used('ENABLE_FTS5')").scalar())


def _upgrade_sqlite(bind: sa.Connection) -> None:
    if _has_trigram(bind):
        # title and body indexed; version_id stored only, to tell whether the document is current
        op.execute(
            "CREATE VIRTUAL TABLE search_documents USING fts5("
            "title, body, version_id UNINDEXED, tokenize = 'trigram')"
        )
    else:
        log.warning(
            "SQLite %s has no FTS5 trigram tokenizer (needs >= 3.34): search will scan the archive",
            sqlite3.sqlite_version,
        )
        op.execute(
            "CREATE TABLE search_documents (article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE, "
            "version_id INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL)"
        )
    op.execute(f"INSERT INTO search_documents (rowid, version_id, title, body) {_SOURCE}")


def _upgrade_postgresql() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_table(
        "search_documents",
        # derived data: it goes with its article (SQLite's FTS5 table cannot hold a foreign key at all)
        sa.Column(
            "article_id",
            Id,
            sa.ForeignKey("articles.id", ondelete="CASCADE"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("version_id", Id, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.execute(f"INSERT INTO search_documents (article_id, version_id, title, body) {_SOURCE}")
    # built after the fill: one sort per index instead of row-by-row GIN updates
    for col in ("title", "body"):
        op.create_index(
            f"ix_search_documents_{col}_trgm",
            "search_documents",
            [col],
            postgresql_using="gin",
            postgresql_ops={col: "gin_trgm_ops"},
        )
    op.execute("ANALYZE search_documents")  # the planner's row estimates pick the index from the start


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _upgrade_sqlite(bind)
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    # DROP TABLE also removes an FTS5 table's shadow tables. pg_trgm stays: it may predate 0003 or
    # serve something else, and an unused extension costs nothing.
    op.execute("DROP TABLE search_documents")
