"""Captures: the resources archived with pages (images, stylesheets, fonts, scans), and which page
needs which.

- ``resources``: one row per resource URL (its canonical form): kind, what came back (type, size,
  payload digest, where its record sits in the WARC files, whether that record is a revisit), when
  it was first and last seen, or why it is not archived (``why_not``: too_large, refused_type,
  refused_host, robots_disallowed, http_404 …). ``payload_digest`` is indexed: the same picture
  under another URL is found and archived as a revisit record.
- ``captures``: every response and revisit record of the WARC files (any page: home, channel
  lists, e-paper pages, further pages of an article; any resource), by URL and time, read from
  the files themselves (a CDX index, as pywb keeps): the replay finds the capture of a link's
  target nearest in time. ``capture_files`` says how far each file has been read.
- ``page_resources``: the frontier URL of a page (an article's URL holds all its pages) and the
  resources it uses; a logo used by every page is one resource row and many links.

Revision ID: 0012_captures
Revises: 0011_recheck
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id, UtcDateTime

revision = "0012_captures"
down_revision = "0011_recheck"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("url_key", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_id", Id, sa.ForeignKey("urls.id", name="fk_resources_url_id_urls")),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("why_not", sa.Text()),
        sa.Column("http_status", sa.Integer()),
        sa.Column("content_type", sa.String(200)),
        sa.Column("size", sa.BigInteger()),
        sa.Column("payload_digest", sa.String(100)),
        sa.Column("warc_file", sa.Text()),
        sa.Column("warc_offset", sa.BigInteger()),
        sa.Column("warc_length", sa.BigInteger()),
        sa.Column("revisit", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.Column("last_seen_at", UtcDateTime),
        sa.Column("checked_at", UtcDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_resources"),
        sa.UniqueConstraint("url_key", name="uq_resources_url_key"),
    )
    op.create_index("ix_resources_payload_digest", "resources", ["payload_digest"])
    op.create_index("ix_resources_url_id", "resources", ["url_id"])
    op.create_table(
        "page_resources",
        sa.Column(
            "page_url_id",
            Id,
            sa.ForeignKey("urls.id", name="fk_page_resources_page_url_id_urls"),
            nullable=False,
        ),
        sa.Column(
            "resource_id",
            Id,
            sa.ForeignKey("resources.id", name="fk_page_resources_resource_id_resources"),
            nullable=False,
        ),
        sa.Column("first_seen_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("page_url_id", "resource_id", name="pk_page_resources"),
    )
    op.create_index("ix_page_resources_resource_id", "page_resources", ["resource_id"])
    op.create_table(
        "captures",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("url_key", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("captured_at", UtcDateTime, nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("content_type", sa.String(200)),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("payload_digest", sa.String(100)),
        sa.Column("warc_file", sa.Text(), nullable=False),
        sa.Column("warc_offset", sa.BigInteger(), nullable=False),
        sa.Column("warc_length", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_captures"),
        sa.UniqueConstraint("warc_file", "warc_offset", name="uq_captures_warc_file_warc_offset"),
    )
    op.create_index("ix_captures_url_key_captured_at", "captures", ["url_key", "captured_at"])
    op.create_index("ix_captures_payload_digest", "captures", ["payload_digest"])
    op.create_table(
        "capture_files",
        sa.Column("warc_file", sa.Text(), nullable=False),
        sa.Column("indexed_to", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("warc_file", name="pk_capture_files"),
    )


def downgrade() -> None:
    op.drop_table("capture_files")
    op.drop_index("ix_captures_payload_digest", "captures")
    op.drop_index("ix_captures_url_key_captured_at", "captures")
    op.drop_table("captures")
    op.drop_index("ix_page_resources_resource_id", "page_resources")
    op.drop_table("page_resources")
    op.drop_index("ix_resources_url_id", "resources")
    op.drop_index("ix_resources_payload_digest", "resources")
    op.drop_table("resources")
