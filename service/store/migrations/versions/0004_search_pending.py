"""Search index updates move off the write path: ``store_article`` only notes the article in
``search_pending`` (one tiny insert) and ``search.refresh_pending`` indexes the noted articles in
batches — before every search, after every drain, and once a minute in the daemon. Indexing 800
characters of trigrams on every store had halved the store's throughput on SQLite.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("search_pending", sa.Column("article_id", Id, primary_key=True, autoincrement=False))


def downgrade() -> None:
    op.drop_table("search_pending")
