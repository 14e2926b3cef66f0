"""PostgreSQL pools: a connection the server ended is replaced before a request uses it, one idle
for a while is pinged first, a busy one is used at once (no ping round trips); the hot path's
pool resets no session state on release."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core import db
from tests.fixtures.database import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL pools only")


@pytest.fixture
async def pg_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(database_url, pool_size=1)
    yield engine
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _count_pings(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    pings: list[Any] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


async def test_a_connection_the_server_ended_is_replaced(pg_engine: AsyncEngine) -> None:
    first = await _backend_pid(pg_engine)
    killer = await asyncpg.connect(
        pg_engine.url.set(drivername="postgresql").render_as_string(False)
    )
    try:
        await killer.execute("SELECT pg_terminate_backend($1)", first)
    finally:
        await killer.close()
    await asyncio.sleep(0.2)  # the driver reads the server's goodbye
    assert await _backend_pid(pg_engine) != first


async def test_busy_connections_are_not_pinged(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(pg_engine, monkeypatch)
    pid = await _backend_pid(pg_engine)
    for _ in range(5):
        assert await _backend_pid(pg_engine) == pid
    assert pings == []


async def test_an_idle_connection_is_pinged_first(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pings = _count_pings(pg_engine, monkeypatch)
    pid = await _backend_pid(pg_engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert await _backend_pid(pg_engine) == pid
    assert len(pings) == 1


async def test_an_idle_connection_that_fails_its_ping_is_replaced(
    pg_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = await _backend_pid(pg_engine)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)

    def dead(_dbapi_connection: Any) -> bool:
        raise ConnectionResetError("silently dropped")

    monkeypatch.setattr(pg_engine.dialect, "do_ping", dead)
    # The replacement is a new connection: not pinged.
    assert await _backend_pid(pg_engine) != pid


async def test_the_read_pool_sends_nothing_on_release(database_url: str) -> None:
    engine = db.create_engine(database_url, pool_size=1)
    sent: list[str] = []
    try:
        async with db.open_read_connections(engine) as read_connection:
            async with read_connection() as conn:
                assert isinstance(conn, asyncpg.Connection)
                conn.add_query_logger(lambda record: sent.append(record.query))
                await conn.fetchval("SELECT 1")
            async with read_connection() as conn:
                assert isinstance(conn, asyncpg.Connection)
                await conn.fetchval("SELECT 2")
    finally:
        await engine.dispose()
    assert sent == ["SELECT 1", "SELECT 2"]


async def test_a_load_above_the_pool_size_opens_no_new_connections(database_url: str) -> None:
    """More requests at once than the pool holds wait for a connection; none is opened per
    request and closed again (an overflow connection used to be, costing each request a
    connect)."""
    engine = db.create_engine(database_url, pool_size=3)
    connects: list[Any] = []
    event.listen(engine.sync_engine, "connect", lambda *args: connects.append(args))

    async def request() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.01)"))

    try:
        for _ in range(5):
            await asyncio.gather(*(request() for _ in range(12)))
    finally:
        await engine.dispose()
    assert len(connects) == 3
