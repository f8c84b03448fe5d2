"""Alembic environment: migrations run on the connection that ``service.store.db.upgrade`` passes in.

There is no alembic.ini and no URL here on purpose: the database comes from the settings, and the
caller already holds the lock that serialises concurrent upgrades inside its transaction.
"""

from __future__ import annotations

from alembic import context

from service.store.schema import metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through service.store.db.upgrade (or `jinshan db upgrade`)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run()
