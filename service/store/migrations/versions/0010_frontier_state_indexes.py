"""A claim writes fewer pages: the index on ``urls.state`` gives way to two partial indexes that
hold only the states looked up by state.

Every claim moves its URLs from "new" (or "retry") to "fetching", and every fetch moves them on to
"done". The full index on ``state`` held every URL, so each move deleted an entry somewhere in the
long run of "new" (a page of its own for each claimed URL, scattered by id) and inserted one
elsewhere: at millions of URLs a claim of 8 dirtied about as many index pages as table pages, the
part of its cost that grew with the frontier. The states looked up by state are few and small:

- ``ix_urls_fetching`` (``leased_by`` where "fetching"): the leases, dead claims and workers of
  ``leases`` and ``frontier.park_dead_claims``;
- ``ix_urls_not_article`` (``id`` where "not_article"): the refused pages ``jinshan reparse``
  walks by id.

The counts by state come from ``url_state_counts`` (0006), and the frequent errors from
``ix_urls_errors``: neither reads this index. The queries spell these states as literals, so the
planners see that they imply the indexes' conditions.

Cost at upgrade: one pass over ``urls`` per new index.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    fetching = sa.text("state = 'fetching'")
    op.create_index(
        "ix_urls_fetching", "urls", ["leased_by"], sqlite_where=fetching, postgresql_where=fetching
    )
    refused = sa.text("state = 'not_article'")
    op.create_index("ix_urls_not_article", "urls", ["id"], sqlite_where=refused, postgresql_where=refused)
    op.drop_index("ix_urls_state", "urls")


def downgrade() -> None:
    op.create_index("ix_urls_state", "urls", ["state"])
    op.drop_index("ix_urls_not_article", "urls")
    op.drop_index("ix_urls_fetching", "urls")
