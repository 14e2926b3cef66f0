from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import MetaData, delete, func, insert, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import create_engine, create_sessionmaker, has_integer_id, session_scope
from app.core.resources import alembic_config
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

    async def test_upgrade_keeps_rows_and_then_never_reuses_an_id(self, tmp_path: Path) -> None:
        async with throwaway_database(tmp_path, migrated=False) as url:
            config = alembic_config(url)
            await asyncio.to_thread(command.upgrade, config, BEFORE_AUTOINCREMENT)
            engine = create_engine(url, pool_size=1)
            try:
                sessionmaker = create_sessionmaker(engine)
                # Rows written as that schema had them: the models of today have columns
                # that later migrations add.
                async with engine.begin() as conn:
                    ids = await conn.run_sync(_seed_old_schema)
                namespace_id, bob_id = ids["namespace"], ids["bob"]
                before = await _row_counts(engine)
                await asyncio.to_thread(command.upgrade, config, "head")
                # The rebuild dropped tables others reference: nothing cascaded, nothing lost.
                assert await _row_counts(engine, before) == before
                async with session_scope(sessionmaker) as session:
                    await session.execute(delete(User).where(User.id == bob_id))
                    carol = await factories.create_user(session, username="carol")
                    # the repository-count triggers came back with the table
                    session.add(Repository(namespace_id=namespace_id, name="web"))
                assert carol.id > bob_id
                async with engine.connect() as conn:
                    counted = await conn.scalar(
                        select(Namespace.repositories_count).where(Namespace.id == namespace_id)
                    )
                    pending = await conn.scalar(select(func.sum(RepositoryCountChange.delta)))
                assert (counted or 0) + (pending or 0) == 2
            finally:
                await engine.dispose()


def _seed_old_schema(conn: Connection) -> dict[str, int]:
    """A registry, two users in a namespace's team, a token and a repository, inserted into
    the tables as the database has them now (reflected), every other required column filled."""
    tables = MetaData()
    tables.reflect(conn)
    now = datetime.now(UTC)

    def add(table: str, **values: Any) -> int:
        for column in tables.tables[table].columns:
            if column.name in values or column.nullable or column.primary_key:
                continue
            if column.server_default is not None:
                continue
            python_type = column.type.python_type
            values[column.name] = (
                now
                if python_type is datetime
                else False
                if python_type is bool
                else 0
                if python_type is int
                else f"{table}-{column.name}-{secrets.token_hex(4)}"
            )
        key = conn.execute(insert(tables.tables[table]).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])

    registry = add("registries", name="registry", hostname="registry.test:5000")
    alice = add("users", username="alice", email="alice@example.com")
    bob = add("users", username="bob", email="bob@example.com")
    team = add("teams", name="team", hidden=False)
    add("team_users", team_id=team, user_id=alice, role=int(Role.owner))
    add("team_users", team_id=team, user_id=bob, role=int(Role.viewer))
    namespace = add("namespaces", name="ns", registry_id=registry, team_id=team, visibility=0)
    add("application_tokens", user_id=alice, application="ci", lookup="a" * 16)
    add("repositories", namespace_id=namespace, name="app")
    return {"namespace": namespace, "bob": bob}


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
