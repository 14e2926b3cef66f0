from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from alembic import command
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import create_engine, create_sessionmaker, has_integer_id, session_scope
from app.core.resources import alembic_config
from app.core.security import TokenDigester
from app.models import Base, Namespace, Repository, RepositoryCountChange, Role, User
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database


async def test_models_and_migrations_agree(database_url: str) -> None:
    """`alembic check`: autogenerate finds nothing to add to the migrated database."""
    await asyncio.to_thread(command.check, alembic_config(database_url))


async def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    async with throwaway_database(tmp_path) as url:
        config = alembic_config(url)
        await asyncio.to_thread(command.downgrade, config, "base")
        await asyncio.to_thread(command.upgrade, config, "head")
        await asyncio.to_thread(command.check, config)


BEFORE_AUTOINCREMENT = "644322de50cf"


def _integer_id_tables(connection: Connection) -> dict[str, str]:
    """SQLite: table → CREATE statement, for every table with a single INTEGER primary key."""
    tables: dict[str, str] = {}
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).all()
    for name, sql in rows:
        keys = [r for r in connection.exec_driver_sql(f'PRAGMA table_info("{name}")') if r[5]]
        if len(keys) == 1 and keys[0][2].upper() == "INTEGER":
            tables[name] = sql
    return tables


class TestIdsAreNeverReused:
    def test_every_model_with_an_integer_id_asks_for_autoincrement(self) -> None:
        numbered = [t for t in Base.metadata.tables.values() if has_integer_id(t)]
        assert len(numbered) > 15
        assert all(t.dialect_options["sqlite"]["autoincrement"] for t in numbered)

    async def test_every_migrated_integer_id_is_autoincrement(self, engine: AsyncEngine) -> None:
        """Also catches a later migration that rebuilds a table (batch mode does not reflect
        AUTOINCREMENT) or creates one without it."""
        async with engine.connect() as conn:
            if conn.dialect.name != "sqlite":
                # PostgreSQL: every integer id draws from a sequence, which never goes back.
                missing = await conn.exec_driver_sql(
                    "SELECT c.table_name FROM information_schema.columns c "
                    "JOIN information_schema.table_constraints k ON k.table_name = c.table_name "
                    "AND k.constraint_type = 'PRIMARY KEY' AND c.column_name = 'id' "
                    "AND c.table_schema = 'public' "
                    "WHERE c.column_default IS NULL AND c.is_identity = 'NO'"
                )
                assert missing.all() == []
                return
            tables = await conn.run_sync(_integer_id_tables)
        assert len(tables) > 15
        plain = [name for name, sql in tables.items() if "AUTOINCREMENT" not in sql.upper()]
        assert plain == []

    async def test_upgrade_keeps_rows_and_then_never_reuses_an_id(
        self, tmp_path: Path, digester: TokenDigester
    ) -> None:
        async with throwaway_database(tmp_path, migrated=False) as url:
            config = alembic_config(url)
            await asyncio.to_thread(command.upgrade, config, BEFORE_AUTOINCREMENT)
            engine = create_engine(url, pool_size=1)
            try:
                sessionmaker = create_sessionmaker(engine)
                async with session_scope(sessionmaker) as session:
                    registry = await factories.create_registry(session)
                    alice = await factories.create_user(session, username="alice")
                    bob = await factories.create_user(session, username="bob")
                    await factories.create_token(session, digester, alice)
                    namespace = await factories.create_namespace(
                        session, registry, members={alice.id: Role.owner, bob.id: Role.viewer}
                    )
                    session.add(Repository(namespace_id=namespace.id, name="app"))
                before = await _row_counts(engine)
                await asyncio.to_thread(command.upgrade, config, "head")
                # The rebuild dropped tables others reference: nothing cascaded, nothing lost.
                assert await _row_counts(engine, before) == before
                async with session_scope(sessionmaker) as session:
                    await session.execute(delete(User).where(User.id == bob.id))
                    carol = await factories.create_user(session, username="carol")
                    # the repository-count triggers came back with the table
                    session.add(Repository(namespace_id=namespace.id, name="web"))
                assert carol.id > bob.id
                async with engine.connect() as conn:
                    counted = await conn.scalar(
                        select(Namespace.repositories_count).where(Namespace.id == namespace.id)
                    )
                    pending = await conn.scalar(select(func.sum(RepositoryCountChange.delta)))
                assert (counted or 0) + (pending or 0) == 2
            finally:
                await engine.dispose()


async def _row_counts(engine: AsyncEngine, names: Iterable[str] | None = None) -> dict[str, int]:
    """Rows per model table: those named, or else those the database has now (tables that
    later migrations create are not there yet before the upgrade)."""
    async with engine.connect() as conn:
        if names is None:
            present = set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))
            names = [name for name in Base.metadata.tables if name in present]
        return {
            name: int(
                await conn.scalar(select(func.count()).select_from(Base.metadata.tables[name])) or 0
            )
            for name in names
        }
