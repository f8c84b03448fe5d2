"""The people list counts each person's articles by role from one index: ``credits (person_id,
role, article_id)``.

The archive view's people list shows, for each of the 50 people of a page, how many articles credit
them in each role. Through ``ix_credits_person_id_version_id`` every credit meant a read of the
credit row (for its role) and of its article (for the version and copy checks): 0.46 s for a page
of 50 people with 26,500 credits in a 200,000-article archive (SQLite, load 13). This index holds
the role and the article, so the counts are index-only; copies are left out by their ids, read from
the small partial index ``ix_articles_duplicate_of``: 18 ms by role and 43 ms for the totals on the
same page and machine.

Cost at upgrade: one pass over ``credits`` (1.9 s at 200,000 articles, 530,000 credits); one more
index entry per credit written (about three per article).

Revision ID: 0013_people
Revises: 0012_captures
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0013_people"
down_revision = "0012_captures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_credits_person_id_role_article_id", "credits", ["person_id", "role", "article_id"])


def downgrade() -> None:
    op.drop_index("ix_credits_person_id_role_article_id", table_name="credits")
