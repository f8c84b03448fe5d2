"""Politeness shared by every process on one database: per host, the earliest start of the next
request, a hold-off (Retry-After, robots.txt unreachable, a block page) and robots.txt's
Crawl-delay (``host_budgets``), and the requests in flight, each with an expiry so that a process
that dies frees its place by itself (``host_requests``). See service/store/budget.py.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_budgets",
        sa.Column("host", sa.String(200), primary_key=True),
        sa.Column("next_start", sa.Float, nullable=False),
        sa.Column("crawl_delay", sa.Float, nullable=False),
        sa.Column("hold_until", sa.Float, nullable=False),
        sa.Column("hold_reason", sa.String(64), nullable=False),
    )
    op.create_table(
        "host_requests",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(200), nullable=False, index=True),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("host_requests")
    op.drop_table("host_budgets")
