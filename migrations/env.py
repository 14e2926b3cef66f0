"""Alembic environment: async engine, URL from the Portus settings, batch mode on SQLite."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.core.config import load_settings
from app.core.db import create_engine
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    explicit = config.attributes.get("database_url")
    if isinstance(explicit, str):
        return explicit
    return load_settings().resolved_database_url


def _include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    # PostgreSQL-only indexes the models cannot declare for both backends: the search
    # expression indexes (search_trigram_indexes, search_prefix_index revisions) and the
    # INCLUDE index of repository pages (repository_page_index).
    postgresql_only = ("_trgm", "_prefix", "_covering")
    return not (type_ == "index" and reflected and (name or "").endswith(postgresql_only))


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    # On the driver's connection: SQLAlchemy would open a transaction first, and inside one
    # SQLite ignores this pragma.
    cursor = connection.connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        include_object=_include_object,
    )
    if sqlite:
        # SQLite's procedure for schema changes: a table rebuild (batch mode, or a migration's
        # own) drops the old table, which with foreign keys on deletes the rows that reference
        # it (ON DELETE CASCADE). Off during the migrations, checked before the commit.
        _sqlite_foreign_keys(connection, on=False)
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migrations broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            _sqlite_foreign_keys(connection, on=True)


async def _run_online() -> None:
    engine = create_engine(_url(), pool_size=1)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(_run_online())
