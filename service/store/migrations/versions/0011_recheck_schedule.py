"""Every stored article stays on schedule: the frontier keeps the time each check is aged from.

``urls.published_at``: the article's publication time, or its first-seen time when the page gives
none. Revisits used to be computed from the publication *date* after a 304 (at midnight, hours off),
and ended after the seventh day; now every check, whatever it answered, is scheduled from this time,
and the sweep of the back catalogue re-checks each article at growing ages for as long as it exists.

The upgrade fills the column from the articles, fills ``urls.published_on`` where the path gave no
date, and gives every stored article that had no due time left (``due_at`` NULL: its revisits were
over) a first sweep check spread over the next 180 days (the default ``schedule.sweep_every_days``)
by a hash of its URL id, at the sweep's claim priority (-1): a million articles become due at about
5,600 a day, not at once.

Two partial indexes serve the web view's changes page: the versions after the first by when they
were first seen, the articles marked gone by when.

Cost at upgrade: one UPDATE pass over the URLs of articles, then one read and one write per
unscheduled article (about a minute per million on SQLite), and a pass over the versions and the
articles for the indexes.

Revision ID: 0011_recheck
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import UtcDateTime

revision = "0011_recheck"
down_revision = "0010"
branch_labels = None
depends_on = None

#: the period over which the articles without a due time get their first sweep check
PERIOD = timedelta(days=180)
#: the sweep's claim priority (below new URLs and first-week revisits, 0)
SWEEP_PRIORITY = -1
_BATCH = 2000

_urls = sa.table(
    "urls",
    sa.column("id", sa.Integer),
    sa.column("state", sa.String),
    sa.column("article_id", sa.Integer),
    sa.column("due_at", UtcDateTime),
    sa.column("priority", sa.Integer),
)


def _spread(url_id: int) -> float:
    digest = hashlib.blake2b(f"enter:{url_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def upgrade() -> None:
    op.add_column("urls", sa.Column("published_at", UtcDateTime))
    op.execute(
        "UPDATE urls SET"
        " published_at = (SELECT COALESCE(a.published_at, a.first_seen_at) FROM articles a WHERE a.id = urls.article_id),"
        " published_on = COALESCE(published_on, (SELECT a.published_on FROM articles a WHERE a.id = urls.article_id))"
        " WHERE article_id IS NOT NULL"
    )
    _schedule_unscheduled(op.get_bind())
    # the changes page reads the edits (versions after the first) and deletions newest first
    later = sa.text("version > 1")
    op.create_index("ix_article_versions_changes", "article_versions", ["first_seen_at"], sqlite_where=later,
                    postgresql_where=later)  # fmt: skip
    gone = sa.text("gone_at IS NOT NULL")
    op.create_index("ix_articles_gone_at", "articles", ["gone_at"], sqlite_where=gone, postgresql_where=gone)


def _schedule_unscheduled(conn: sa.Connection) -> None:
    now = datetime.now(UTC)
    sqlite = conn.dialect.name == "sqlite"
    pick = (
        sa.select(_urls.c.id)
        .where(_urls.c.state == "done", _urls.c.article_id.is_not(None), _urls.c.due_at.is_(None),
               _urls.c.id > sa.bindparam("after"))
        .order_by(_urls.c.id)
        .limit(_BATCH)
    )  # fmt: skip
    write = (
        sa.update(_urls)
        .where(_urls.c.id == sa.bindparam("u_id"))
        .values(due_at=sa.bindparam("u_due", type_=UtcDateTime), priority=SWEEP_PRIORITY)
    )
    after = 0
    while ids := list(conn.execute(pick, {"after": after}).scalars()):
        rows = []
        for url_id in ids:
            due = now + PERIOD * _spread(url_id)
            # SQLite keeps naive UTC text (the store's UtcDateTime), PostgreSQL an aware timestamp
            rows.append({"u_id": url_id, "u_due": due.replace(tzinfo=None) if sqlite else due})
        conn.execute(write, rows)
        after = ids[-1]


def downgrade() -> None:
    op.drop_index("ix_articles_gone_at", "articles")
    op.drop_index("ix_article_versions_changes", "article_versions")
    op.execute("ALTER TABLE urls DROP COLUMN published_at")  # SQLite ≥ 3.35 and PostgreSQL alike
