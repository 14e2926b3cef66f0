"""Password checks (argon2) hold no transaction, lock or connection while they run, and are
bounded: a few at a time, a bounded queue, then 503 with Retry-After."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import security
from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.security import PasswordChecksBusy, PasswordVerifier
from app.main import create_app
from app.models import LoginFailure
from tests.conftest import ClientFactory, make_settings
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST


class Gate:
    """Replaces argon2: each check signals that it runs, then waits until the gate opens."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.running = threading.Semaphore(0)
        self.real = security._verify

    def verify(self, stored: str | None, password: str) -> bool:
        self.running.release()
        self.opened.wait(30)  # never forever, even when a test fails
        return self.real(stored, password)

    async def wait_running(self, count: int) -> None:
        for _ in range(count):
            assert await asyncio.to_thread(self.running.acquire, True, 10)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    gate = Gate()
    monkeypatch.setattr(security, "_verify", gate.verify)
    yield gate
    gate.opened.set()


async def test_checks_beyond_the_slots_and_the_queue_are_refused_at_once(gate: Gate) -> None:
    verifier = PasswordVerifier(concurrency=1, queue=1)
    try:
        running = asyncio.create_task(verifier.verify(None, "a"))
        queued = asyncio.create_task(verifier.verify(None, "b"))
        await gate.wait_running(1)
        await asyncio.sleep(0)
        assert verifier.admitted == 2
        with pytest.raises(PasswordChecksBusy) as refused:
            await verifier.verify(None, "c")
        assert refused.value.retry_after >= 1
        gate.opened.set()
        assert list(await asyncio.gather(running, queued)) == [False, False]
        assert verifier.admitted == 0
    finally:
        verifier.close()


def test_concurrency_zero_means_half_the_cpus() -> None:
    verifier = PasswordVerifier(concurrency=0, queue=0)
    try:
        assert 1 <= verifier.concurrency <= max(1, os.cpu_count() or 2)
    finally:
        verifier.close()


async def test_saturated_checks_answer_503_with_retry_after(
    make_client: ClientFactory, gate: Gate, session: AsyncSession
) -> None:
    async with make_client(password_checks={"concurrency": 1, "queue": 0}) as client:
        first = asyncio.create_task(
            client.post("/api/v1/session", json={"username": "x", "password": "y"})
        )
        await gate.wait_running(1)
        busy = await client.post("/api/v1/session", json={"username": "x", "password": "y"})
        assert busy.status_code == 503
        assert "too many password checks" in busy.json()["message"]
        assert int(busy.headers["Retry-After"]) >= 1
        token = await client.get(
            "/v2/token", params={"service": REGISTRY_HOST}, auth=("x", "not-a-token")
        )
        assert token.status_code == 503
        assert token.json()["errors"][0]["code"] == "UNAVAILABLE"
        assert int(token.headers["Retry-After"]) >= 1
        gate.opened.set()
        assert (await first).status_code == 401
    # The refused ones were never tried: only the first counts against the address.
    address = await session.get(LoginFailure, "127.0.0.1")
    assert address is not None
    await session.refresh(address)
    assert address.failures == 1


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[str]:
    async with throwaway_database(tmp_path) as url:
        yield url


def _sqlite_write_lock_is_free(url: str) -> bool:
    connection = sqlite3.connect(make_url(url).database or "", timeout=2, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        connection.close()


async def _postgres_holds_nothing(url: str) -> tuple[int, bool]:
    """(transactions open on the app's connections, whether alice's row can be locked)."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        open_transactions = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        await connection.execute("SET lock_timeout = '2s'")
        try:
            async with connection.transaction():
                await connection.execute("SELECT 1 FROM users WHERE username = 'alice' FOR UPDATE")
            lockable = True
        except asyncpg.LockNotAvailableError:
            lockable = False
        return int(open_transactions), lockable
    finally:
        await connection.close()


async def test_no_transaction_lock_or_connection_is_held_during_argon2(
    own_database: str, settings: Settings, gate: Gate
) -> None:
    """The old code kept SQLite's write lock (BEGIN IMMEDIATE) or PostgreSQL's row lock and a
    pooled connection for the whole argon2 run: every other write waited."""
    engine = create_engine(own_database)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            await factories.create_user(session, username="alice")
    finally:
        await engine.dispose()
    app = create_app(
        make_settings(
            settings,
            database_url=own_database,
            password_checks={"concurrency": 3, "queue": 3},
        ),
        run_background=False,
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as client:
            logins = [
                asyncio.create_task(
                    client.post("/api/v1/session", json={"username": "alice", "password": password})
                )
                for password in ("wrong1", "wrong2", PASSWORD)
            ]
            await gate.wait_running(3)
            if own_database.startswith("sqlite"):
                assert await asyncio.to_thread(_sqlite_write_lock_is_free, own_database)
            else:
                assert await _postgres_holds_nothing(own_database) == (0, True)
            gate.opened.set()
            statuses = sorted(response.status_code for response in await asyncio.gather(*logins))
    assert statuses == [200, 401, 401]
