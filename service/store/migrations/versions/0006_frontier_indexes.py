"""The frontier at millions of URLs: a claim reads an index in its order, and the counts by state
are kept in a small table instead of being counted.

A claim asks for the due URLs in ``priority DESC, due_at, id`` order. With only an index on
``due_at`` the database read every due row and sorted them for each claim: 2.8 ms at 5,000 due
URLs, the order of a second at 2 million (a backfill walks the lists first, so the frontier holds
millions of due URLs before most are fetched). ``ix_urls_claim`` holds that order, so a claim reads
its first rows from the index and stops at its limit. It is partial (``due_at IS NOT NULL``):
finished URLs have no due time, are never claimed, and are most of a mature frontier. It replaces
``ix_urls_due_at``, which served nothing else. ``ix_urls_errors`` holds only the URLs with an error,
for the frequent errors of ``jinshan stats`` (a read of the whole table before).

``url_state_counts`` holds the number of URLs in each state, kept by triggers on ``urls`` (row
triggers on SQLite; statement triggers over the transition tables on PostgreSQL, so a claim of 50
URLs moves the counts once, in state order). ``jinshan stats``, the daemon's gauges and the
backfill's summary read 8 rows instead of counting millions (a count by state read the whole table
on PostgreSQL, where an index-only scan needs a freshly vacuumed table).

Cost at upgrade: one pass over ``urls`` per index and one to count (about 10 s per
million URLs on PostgreSQL; the table is locked against writes meanwhile).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PENDING = "due_at IS NOT NULL"

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER urls_count_insert AFTER INSERT ON urls BEGIN
         INSERT INTO url_state_counts (state, n) VALUES (new.state, 1)
           ON CONFLICT (state) DO UPDATE SET n = n + 1;
       END""",
    """CREATE TRIGGER urls_count_update AFTER UPDATE OF state ON urls
       WHEN old.state IS NOT new.state BEGIN
         UPDATE url_state_counts SET n = n - 1 WHERE state = old.state;
         INSERT INTO url_state_counts (state, n) VALUES (new.state, 1)
           ON CONFLICT (state) DO UPDATE SET n = n + 1;
       END""",
    """CREATE TRIGGER urls_count_delete AFTER DELETE ON urls BEGIN
         UPDATE url_state_counts SET n = n - 1 WHERE state = old.state;
       END""",
)

# one function for the three statement triggers; a branch reads only the transition tables its
# trigger declares. Rows are moved in state order, so two transactions lock them in the same order.
_PG_FUNCTION = """
CREATE FUNCTION urls_count_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO url_state_counts AS c (state, n)
      SELECT state, count(*) FROM new_rows GROUP BY state ORDER BY state
      ON CONFLICT (state) DO UPDATE SET n = c.n + excluded.n;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO url_state_counts AS c (state, n)
      SELECT state, sum(d) FROM (
        SELECT state, 1 AS d FROM new_rows UNION ALL SELECT state, -1 FROM old_rows
      ) moved GROUP BY state HAVING sum(d) <> 0 ORDER BY state
      ON CONFLICT (state) DO UPDATE SET n = c.n + excluded.n;
  ELSE
    INSERT INTO url_state_counts AS c (state, n)
      SELECT state, -count(*) FROM old_rows GROUP BY state ORDER BY state
      ON CONFLICT (state) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END $$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER urls_count_insert AFTER INSERT ON urls REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION urls_count_states()",
    "CREATE TRIGGER urls_count_update AFTER UPDATE ON urls REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION urls_count_states()",
    "CREATE TRIGGER urls_count_delete AFTER DELETE ON urls REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION urls_count_states()",
)
_TRIGGER_NAMES = ("urls_count_insert", "urls_count_update", "urls_count_delete")


def upgrade() -> None:
    op.drop_index("ix_urls_due_at", table_name="urls")
    op.create_index(
        "ix_urls_claim",
        "urls",
        [sa.text("priority DESC"), "due_at", "id"],
        sqlite_where=sa.text(_PENDING),
        postgresql_where=sa.text(_PENDING),
    )
    op.create_index(
        "ix_urls_errors",
        "urls",
        ["state", "last_error"],
        sqlite_where=sa.text("last_error IS NOT NULL"),
        postgresql_where=sa.text("last_error IS NOT NULL"),
    )
    op.create_table(
        "url_state_counts",
        sa.Column("state", sa.String(16), primary_key=True),
        sa.Column("n", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO url_state_counts (state, n) SELECT state, count(*) FROM urls GROUP BY state")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for ddl in _PG_TRIGGERS:
            op.execute(ddl)
    else:
        for ddl in _SQLITE_TRIGGERS:
            op.execute(ddl)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name in _TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER {name} ON urls" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION urls_count_states()")
    op.drop_table("url_state_counts")
    op.drop_index("ix_urls_errors", table_name="urls")
    op.drop_index("ix_urls_claim", table_name="urls")
    op.create_index("ix_urls_due_at", "urls", ["due_at"])
