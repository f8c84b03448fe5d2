"""The archive view (``jinshan serve``): a channel column and the indexes its pages read by.

- ``articles.channel``: the current version's channel (it lives in the version's JSON), copied onto
  the article row so a channel's page is one index range instead of a scan of every version's JSON;
  filled here from the current versions, then kept by the store with the current version.
- ``(published_at, id)``: the newest articles, a day, the API's cursor: a seek, never a sort of the
  archive (the home page read 1M rows to sort before this).
- ``(channel, published_at, id)``: a channel's newest first, by cursor.
- ``(person_id, version_id)`` on credits (replacing ``(person_id)``): a person's articles and
  counts by year read the credits of the current versions only, from the index.
- partial index on ``duplicate_of`` (only near-duplicate rows have one): an article's copies.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 20000


def upgrade() -> None:
    op.add_column("articles", sa.Column("channel", sa.Text()))
    bind = op.get_bind()
    channel_of = (
        "json_extract(v.data, '$.channel')"
        if bind.dialect.name == "sqlite"
        else "(v.data::json ->> 'channel')"
    )
    last = bind.execute(sa.text("SELECT max(id) FROM articles")).scalar() or 0
    for lo in range(1, last + 1, _BATCH):  # in batches: PostgreSQL rewrites rows, SQLite keeps the WAL small
        bind.execute(
            sa.text(
                f"UPDATE articles SET channel = (SELECT {channel_of} FROM article_versions v "
                "WHERE v.id = articles.current_version_id) WHERE id BETWEEN :lo AND :hi"
            ),
            {"lo": lo, "hi": lo + _BATCH - 1},
        )
    op.create_index("ix_articles_published_at_id", "articles", ["published_at", "id"])
    op.create_index("ix_articles_channel_published_at_id", "articles", ["channel", "published_at", "id"])
    op.create_index("ix_credits_person_id_version_id", "credits", ["person_id", "version_id"])
    op.drop_index("ix_credits_person_id", "credits")  # a prefix of the new one
    op.create_index(
        "ix_articles_duplicate_of",
        "articles",
        ["duplicate_of"],
        sqlite_where=sa.text("duplicate_of IS NOT NULL"),
        postgresql_where=sa.text("duplicate_of IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_articles_duplicate_of", "articles")
    op.create_index("ix_credits_person_id", "credits", ["person_id"])
    op.drop_index("ix_credits_person_id_version_id", "credits")
    op.drop_index("ix_articles_channel_published_at_id", "articles")
    op.drop_index("ix_articles_published_at_id", "articles")
    op.execute("ALTER TABLE articles DROP COLUMN channel")  # SQLite ≥ 3.35 and PostgreSQL alike
