"""The search bookkeeping moves onto the article row: ``articles.search_pending`` replaces the
``search_pending`` table (0004).

Every store writes the article's row anyway (the INSERT of a new article, the UPDATE that moves its
current version), so the flag costs no statement of its own, where the table cost one INSERT per
stored article. ``search.refresh_pending`` finds the flagged articles through a partial index
(``WHERE search_pending``), which holds only them: no scan, however large the archive.

Cost at upgrade: adding a column with a constant default rewrites nothing (SQLite, PostgreSQL 11+);
the flagged articles are those of the old table, usually few.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# as each database's queries spell the condition (SQLite has no boolean type: 1), so that the
# planner sees the query's WHERE implies the index's
_FLAGGED = {"sqlite": "search_pending = 1", "postgresql": "search_pending"}


def upgrade() -> None:
    op.add_column(
        "articles", sa.Column("search_pending", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        sa.text(
            "UPDATE articles SET search_pending = :flag WHERE id IN (SELECT article_id FROM search_pending)"
        ).bindparams(sa.bindparam("flag", True, type_=sa.Boolean()))
    )
    op.create_index(
        "ix_articles_search_pending",
        "articles",
        ["id"],
        sqlite_where=sa.text(_FLAGGED["sqlite"]),
        postgresql_where=sa.text(_FLAGGED["postgresql"]),
    )
    op.drop_table("search_pending")


def downgrade() -> None:
    op.create_table("search_pending", sa.Column("article_id", Id, primary_key=True, autoincrement=False))
    op.execute(
        sa.text(
            "INSERT INTO search_pending (article_id) SELECT id FROM articles WHERE search_pending = :flag"
        ).bindparams(sa.bindparam("flag", True, type_=sa.Boolean()))
    )
    op.drop_index("ix_articles_search_pending", "articles")
    op.execute("ALTER TABLE articles DROP COLUMN search_pending")  # SQLite ≥ 3.35 and PostgreSQL alike
