"""Near-duplicate index keyed by pairs of blocks instead of 16-bit bands: the work per lookup stays flat.

0002 keyed each fingerprint by its four 16-bit bands. A probe of a 16-bit key returns about
N / 65,536 unrelated fingerprints, so the work of a lookup grew with the archive (60 candidate rows
at 1M fingerprints; 8.7 µs at 10k, 39 µs at 1M on SQLite). This revision cuts the 64 bits into 5
blocks and keys each of the 10 pairs (``service.text.simhash.index_keys``): 25 or 26 bits per key,
so a probe returns next to nothing unrelated, and any two fingerprints within 3 bits still share a
key (3 changed bits leave 2 of the 5 blocks whole).

The table keeps its shape; only its rows change. They are rebuilt from the stored versions in
batches (keyset pagination on the version id), so memory stays flat on a large archive. 10 rows per fingerprint of an original article.

Self-contained: the key functions and the table are frozen copies as of this revision (a migration
that imported the live ``service.text.simhash`` or the schema would change meaning with them). The
store's ``index_keys`` must keep giving the same keys; a test compares the two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BATCH = 5000
_MASK = (1 << 64) - 1
#: 64 bits in 5 blocks, the first 64 % 5 = 4 one bit wider: 13, 13, 13, 13, 12
_WIDTHS = (13, 13, 13, 13, 12)
_PAIRS = tuple((i, j) for i in range(5) for j in range(i + 1, 5))
_PAIR_BITS = 26

_simhash_index = sa.table(
    "simhash_index",
    sa.column("key", sa.Integer),
    sa.column("fingerprint", sa.BigInteger),
    sa.column("article_id"),
)


def index_keys(fp: int) -> tuple[int, ...]:
    """One key per pair of blocks: ``pair_no << 26 | block_i << width_j | block_j``."""
    blocks = []
    for width in _WIDTHS:
        blocks.append(fp & ((1 << width) - 1))
        fp >>= width
    return tuple((n << _PAIR_BITS) | (blocks[i] << _WIDTHS[j]) | blocks[j] for n, (i, j) in enumerate(_PAIRS))


def band_keys_0002(fp: int) -> tuple[int, ...]:
    """The keys as 0002 built them: ``band << 16`` | the band's 16 bits, four bands."""
    return tuple((band << 16) | ((fp >> (16 * band)) & 0xFFFF) for band in range(4))


def _insert_ignore(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(_simhash_index).on_conflict_do_nothing(), rows)


# the fingerprints the store indexes: every version of every original article (as 0002 backfilled)
_VERSIONS = sa.text(
    "SELECT v.id, v.simhash, v.article_id FROM article_versions v JOIN articles a ON a.id = v.article_id "
    "WHERE v.simhash IS NOT NULL AND a.duplicate_of IS NULL AND v.id > :after ORDER BY v.id LIMIT :n"
)


def _rebuild(keys_of: Callable[[int], tuple[int, ...]]) -> None:
    conn = op.get_bind()
    conn.execute(sa.delete(_simhash_index))
    after = -1
    while rows := conn.execute(_VERSIONS, {"after": after, "n": _BATCH}).all():
        _insert_ignore(
            conn,
            [
                {"key": key, "fingerprint": fp, "article_id": article_id}
                for _, fp, article_id in rows
                for key in keys_of(int(fp) & _MASK)
            ],
        )
        after = int(rows[-1][0])


def upgrade() -> None:
    _rebuild(index_keys)


def downgrade() -> None:
    _rebuild(band_keys_0002)
