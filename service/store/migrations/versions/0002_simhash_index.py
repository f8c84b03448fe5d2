"""Near-duplicate index: banded SimHash fingerprints, backfilled from the stored versions.

0001 kept each version's fingerprint but could only find near-duplicates by scanning every
fingerprint. This table holds 4 rows per fingerprint, one per 16-bit band, keyed so that a lookup
is four primary-key probes (pigeonhole: two fingerprints within 3 bits share a band).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.migrations.frozen import Id

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# key = band << 16 | ((fingerprint >> 16 * band) & 0xFFFF), the same packing as
# service.text.simhash.band_keys; >> is arithmetic on signed BIGINT on both databases, and the mask
# keeps only the band's 16 bits, so the result matches the Python side bit for bit.
_BACKFILL = """
INSERT INTO simhash_index (key, fingerprint, article_id)
SELECT DISTINCT b.n * 65536 + ((v.simhash >> (16 * b.n)) & 65535), v.simhash, v.article_id
FROM article_versions v
JOIN articles a ON a.id = v.article_id
CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3) b
WHERE v.simhash IS NOT NULL AND a.duplicate_of IS NULL
"""


def upgrade() -> None:
    op.create_table(
        "simhash_index",
        sa.Column("key", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("fingerprint", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("article_id", Id, sa.ForeignKey("articles.id"), primary_key=True, autoincrement=False),
        sqlite_with_rowid=False,
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_table("simhash_index")
