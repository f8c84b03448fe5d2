"""Column types as the migrations created them, frozen here.

A migration describes the schema at its revision, forever: it must not import the live schema or
any code that may change later (``service.store.schema``, ``service.text``), or a later change would
silently rewrite history. What migrations share is defined once here and never changed; a later
revision that needs another type adds a new name.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, DateTime, Integer

#: primary and foreign keys: BIGINT on PostgreSQL, INTEGER on SQLite (so that it is the rowid)
Id = BigInteger().with_variant(Integer(), "sqlite")
#: timestamps: the DDL of the store's UtcDateTime (aware UTC; naive UTC text on SQLite)
UtcDateTime = DateTime(timezone=True)
