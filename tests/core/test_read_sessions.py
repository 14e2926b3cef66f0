"""The session of a GET request reads without a transaction (no BEGIN, no COMMIT; on SQLite no
write lock) and refuses to write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.core import db
from app.models import Registry
from tests.fixtures.database import backend


@pytest.fixture
async def own_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def _sent(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], statement: Any
) -> list[str]:
    """The transaction statements a session of `sessions` sends around `statement` and its
    commit: BEGIN (COMMIT too on PostgreSQL; pysqlite commits with a call of its own)."""
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    sqlite = backend() == "sqlite"
    if sqlite:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with sessions() as session:
            connection = await session.connection()
            if not sqlite:
                raw = (await connection.get_raw_connection()).driver_connection
                assert raw is not None
                raw.add_query_logger(lambda entry: sent.append(entry.query))
            await session.execute(statement)
            await session.commit()
    finally:
        if sqlite:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
    words = [s.strip().rstrip(";").split()[0].upper() for s in sent]
    return [word for word in words if word in ("BEGIN", "COMMIT", "ROLLBACK")]


async def test_a_read_session_sends_no_begin_and_no_commit(own_engine: AsyncEngine) -> None:
    reads = db.create_read_sessionmaker(db.create_sessionmaker(own_engine))
    assert await _sent(own_engine, reads, select(Registry.id)) == []


async def test_a_write_session_still_has_its_transaction(own_engine: AsyncEngine) -> None:
    writes = db.create_sessionmaker(own_engine)
    sent = await _sent(own_engine, writes, select(Registry.id))
    expected = ["BEGIN"] if backend() == "sqlite" else ["BEGIN", "COMMIT"]
    assert sent == expected


@pytest.fixture
def read_sessions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    return db.create_read_sessionmaker(sessionmaker)


async def test_an_added_object_is_refused(
    read_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with read_sessions() as session:
        session.add(Registry(name="r", hostname="r:5000"))
        with pytest.raises(db.ReadOnlyRequest):
            await session.flush()


async def test_a_changed_object_is_refused(
    session: AsyncSession, read_sessions: async_sessionmaker[AsyncSession]
) -> None:
    session.add(Registry(name="r", hostname="r:5000"))
    await session.commit()
    async with read_sessions() as reader:
        registry = await reader.scalar(select(Registry))
        assert registry is not None
        registry.name = registry.name  # no change: nothing to refuse
        await reader.flush()
        registry.name = "other"
        with pytest.raises(db.ReadOnlyRequest):
            await reader.commit()


@pytest.mark.parametrize(
    "statement",
    [
        insert(Registry).values(name="r", hostname="r:5000"),
        update(Registry).values(name="x"),
    ],
)
async def test_dml_is_refused(
    read_sessions: async_sessionmaker[AsyncSession], statement: Any
) -> None:
    async with read_sessions() as session:
        with pytest.raises(db.ReadOnlyRequest):
            await session.execute(statement)
