"""Initial schema: frontier, fetches, runs, articles with versions, aliases, credits and images.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column[int]:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        _id(),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("counters", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("started_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("finished_at", UtcDateTime),
    )
    op.create_table(
        "articles",
        _id(),
        sa.Column("url_key", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("site_id", sa.String(200), unique=True),
        sa.Column("duplicate_of", Id, sa.ForeignKey("articles.id")),
        sa.Column("current_version_id", Id),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("simhash", sa.BigInteger),
        sa.Column("published_at", UtcDateTime),
        sa.Column("published_on", sa.Date, index=True),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_changed_at", UtcDateTime, nullable=False),
        sa.Column("gone_at", UtcDateTime),
    )
    op.create_table(
        "urls",
        _id(),
        sa.Column("url_key", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("found_on", sa.Text),
        sa.Column("published_on", sa.Date),
        sa.Column("due_at", UtcDateTime, index=True),
        sa.Column("lease_until", UtcDateTime),
        sa.Column("leased_by", sa.String(100)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("payload_digest", sa.String(100)),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id")),
        sa.Column("last_fetched_at", UtcDateTime),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "fetches",
        _id(),
        sa.Column("url_id", Id, sa.ForeignKey("urls.id"), nullable=False),
        sa.Column("run_id", Id, sa.ForeignKey("runs.id")),
        sa.Column("status", sa.Integer),
        sa.Column("fetched_at", UtcDateTime, nullable=False),
        sa.Column("warc_file", sa.Text),
        sa.Column("warc_offset", sa.BigInteger),
        sa.Column("warc_length", sa.BigInteger),
        sa.Column("payload_digest", sa.String(100)),
        sa.Column("error", sa.Text),
        sa.Column("elapsed_s", sa.Float),
        sa.UniqueConstraint("url_id", "fetched_at"),
    )
    op.create_table(
        "article_versions",
        _id(),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False, index=True),
        sa.Column("simhash", sa.BigInteger),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("subtitle", sa.Text),
        sa.Column("body_text", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("url_id", Id, sa.ForeignKey("urls.id")),
        sa.Column("fetch_id", Id, sa.ForeignKey("fetches.id")),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime, nullable=False),
        sa.UniqueConstraint("article_id", "version_hash"),
    )
    op.create_table(
        "article_urls",
        _id(),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id"), nullable=False, index=True),
        sa.Column("url_key", sa.Text, nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("distance", sa.Integer),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
    )
    op.create_table(
        "people",
        _id(),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
    )
    op.create_table(
        "credits",
        _id(),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id"), nullable=False, index=True),
        sa.Column("version_id", Id, sa.ForeignKey("article_versions.id"), nullable=False),
        sa.Column("person_id", Id, sa.ForeignKey("people.id"), nullable=False, index=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.UniqueConstraint("version_id", "role", "position"),
    )
    op.create_table(
        "images",
        _id(),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id"), nullable=False, index=True),
        sa.Column("version_id", Id, sa.ForeignKey("article_versions.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("caption", sa.Text, nullable=False),
        sa.UniqueConstraint("version_id", "position"),
    )


def downgrade() -> None:
    for table in ("images", "credits", "people", "article_urls", "article_versions", "fetches", "urls"):
        op.drop_table(table)
    op.drop_table("articles")
    op.drop_table("runs")
