"""The queue kit on the test database (SQLite, or PostgreSQL with PORTUS_TEST_DATABASE_URL):
claims skip what another claimer holds or has leased, leases are released only by their holder,
the back-off policy keeps every queue's delays, and the dialect's INSERT variants behave alike.

The kit takes its tables as arguments: these tests use a table of their own, in a database of
their own (claims from separate connections need committed rows)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker

from app.auth.throttle import account_delay
from app.core import queue
from app.core.config import LoginRateLimitSettings
from app.core.db import UtcDateTime, create_engine, create_sessionmaker, session_scope, utcnow
from app.core.queue import Backoff
from app.jobs.context import TaskContext
from app.jobs.periodic import PeriodicRunner, PeriodicTask
from app.mail import outbox
from app.webhooks import sender
from tests.fixtures.database import backend, throwaway_database

_metadata = MetaData()
jobs = Table(
    "queue_kit_jobs",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False, unique=True),
    Column("due_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("hits", Integer, nullable=False, default=0),
)
postgresql_only = pytest.mark.skipif(
    backend() != "postgresql", reason="SQLite runs one write transaction at a time"
)


@pytest.fixture(scope="module")
async def kit_engine(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    async with throwaway_database(tmp_path_factory.mktemp("queue"), migrated=False) as url:
        engine = create_engine(url, pool_size=8)
        async with engine.begin() as conn:
            await conn.run_sync(_metadata.create_all)
        yield engine
        await engine.dispose()


@pytest.fixture
async def engine(kit_engine: AsyncEngine) -> AsyncEngine:
    async with kit_engine.begin() as conn:
        await conn.execute(delete(jobs))
    return kit_engine


async def _add(engine: AsyncEngine, *names: str, due_at: datetime, lease: datetime | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            insert(jobs),
            [{"name": name, "due_at": due_at, "lease_until": lease, "hits": 0} for name in names],
        )


def _due(now: datetime, limit: int | None = None) -> Select[int, str]:
    return (
        select(jobs.c.id, jobs.c.name)
        .where(jobs.c.due_at <= now, queue.lease_free(jobs.c.lease_until, now))
        .order_by(jobs.c.id)
        .limit(limit)
    )


async def _claim(conn: AsyncConnection, now: datetime, limit: int | None = None) -> list[str]:
    rows = await conn.execute(queue.for_claim(_due(now, limit), conn))
    return [row.name for row in rows]


class TestClaim:
    async def test_only_due_rows_with_no_live_lease_are_claimed(self, engine: AsyncEngine) -> None:
        now = utcnow()
        earlier, later = now - timedelta(minutes=1), now + timedelta(minutes=1)
        await _add(engine, "free", due_at=earlier, lease=None)
        await _add(engine, "leased", due_at=earlier, lease=later)
        await _add(engine, "lease-ran-out", due_at=earlier, lease=earlier)
        await _add(engine, "lease-ends-now", due_at=earlier, lease=now)
        await _add(engine, "not-due", due_at=later, lease=None)
        async with engine.begin() as conn:
            assert await _claim(conn, now) == ["free", "lease-ran-out", "lease-ends-now"]

    @postgresql_only
    async def test_a_claim_skips_the_rows_another_claim_holds_without_waiting(
        self, engine: AsyncEngine
    ) -> None:
        now = utcnow()
        await _add(engine, "a", "b", "c", "d", due_at=now, lease=None)
        async with engine.begin() as first, engine.begin() as second:
            assert await _claim(first, now, limit=2) == ["a", "b"]
            # A plain SELECT would return a and b again; FOR UPDATE alone would wait for them.
            assert await asyncio.wait_for(_claim(second, now), 5) == ["c", "d"]
        async with engine.begin() as conn:  # both transactions ended: their locks went with them
            assert await _claim(conn, now) == ["a", "b", "c", "d"]

    async def test_concurrent_claimers_never_get_the_same_row(self, engine: AsyncEngine) -> None:
        """Five claimers, each leasing what it claims in its claim's transaction, while the
        others claim too (on SQLite they take turns: the claim holds the write lock)."""
        now = utcnow()
        await _add(engine, *(f"job{n}" for n in range(60)), due_at=now, lease=None)
        lease_until = now + timedelta(minutes=5)

        async def claimer() -> list[str]:
            taken: list[str] = []
            while True:
                async with engine.begin() as conn:
                    rows = (await conn.execute(queue.for_claim(_due(now, 4), conn))).all()
                    await asyncio.sleep(0.01)  # hold the rows while the others claim
                    if not rows:
                        return taken
                    claimed = jobs.c.id.in_([row.id for row in rows])
                    lease = queue.take_lease(
                        jobs, claimed, jobs.c.lease_until, lease_until, hits=jobs.c.hits + 1
                    )
                    await conn.execute(lease)
                taken += [row.name for row in rows]

        batches = await asyncio.gather(*(claimer() for _ in range(5)))
        taken = [name for batch in batches for name in batch]
        assert sorted(taken) == sorted(f"job{n}" for n in range(60))
        if backend() == "postgresql":
            assert sum(1 for batch in batches if batch) > 1  # they did claim side by side
        async with engine.begin() as conn:
            assert set((await conn.scalars(select(jobs.c.hits))).all()) == {1}


class TestLease:
    async def test_a_lease_is_released_only_by_its_holder(self, engine: AsyncEngine) -> None:
        now = utcnow()
        mine, theirs = now + timedelta(seconds=30), now + timedelta(seconds=60)
        await _add(engine, "job", due_at=now, lease=None)
        where = jobs.c.name == "job"
        async with engine.begin() as conn:
            await conn.execute(queue.take_lease(jobs, where, jobs.c.lease_until, mine))
            assert await _claim(conn, now) == []
            # Another claimer took the row since (the first lease ran out): the late release of
            # the first lease leaves the second alone.
            await conn.execute(queue.take_lease(jobs, where, jobs.c.lease_until, theirs))
            await conn.execute(queue.release_lease(jobs, where, jobs.c.lease_until, mine, hits=9))
            assert await conn.scalar(select(jobs.c.lease_until)) == theirs
            assert await conn.scalar(select(jobs.c.hits)) == 0
            await conn.execute(queue.release_lease(jobs, where, jobs.c.lease_until, theirs, hits=9))
            assert (await conn.execute(select(jobs.c.lease_until, jobs.c.hits))).one() == (None, 9)
            assert await _claim(conn, now) == ["job"]


class TestInserts:
    async def test_insert_ignore_inserts_a_row_once(self, engine: AsyncEngine) -> None:
        now = utcnow()
        async with engine.begin() as conn:
            statement = queue.insert_ignore(conn, jobs, conflict=["name"]).returning(jobs.c.id)
            first = await conn.scalar(statement, {"name": "once", "due_at": now, "hits": 1})
            again = await conn.scalar(statement, {"name": "once", "due_at": now, "hits": 2})
            assert first is not None and again is None
            many = queue.insert_ignore(conn, jobs, conflict=[jobs.c.name]).values(
                [{"name": name, "due_at": now, "hits": 3} for name in ("once", "new")]
            )
            assert (await conn.execute(many)).rowcount == 1
            rows = await conn.execute(select(jobs.c.name, jobs.c.hits).order_by(jobs.c.id))
            assert rows.all() == [("once", 1), ("new", 3)]

    async def test_upsert_inserts_then_updates_and_returns_the_row(
        self, engine: AsyncEngine
    ) -> None:
        now = utcnow()
        statement = (
            queue.upsert(engine, jobs, conflict=[jobs.c.name], set_={"hits": jobs.c.hits + 1})
            .values(name="counter", due_at=now, hits=1)
            .returning(jobs.c.hits)
        )
        async with engine.begin() as conn:
            assert [await conn.scalar(statement) for _ in range(3)] == [1, 2, 3]
            assert await conn.scalar(select(func.count()).select_from(jobs)) == 1


class TestBackoff:
    def test_doubles_from_the_first_wait_up_to_the_cap(self) -> None:
        policy = Backoff(first=10, cap=60)
        assert [policy.seconds(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]
        assert policy.seconds(10_000) == 60  # no overflow however long it fails
        assert policy.delay(2) == timedelta(seconds=20)

    def test_jitter_takes_off_at_most_its_fraction(self, monkeypatch: pytest.MonkeyPatch) -> None:
        policy = Backoff(first=10, cap=60, jitter=0.5)
        monkeypatch.setattr(random, "random", lambda: 0.0)
        assert policy.seconds(3) == 40
        monkeypatch.setattr(random, "random", lambda: 0.999)
        assert 20 < policy.seconds(3) < 20.1

    def test_every_queue_keeps_its_delays(self) -> None:
        """Each queue's delays as it computed them before it used the kit."""
        for n in range(1, 70):
            for base, cap in ((10, 3600), (0.5, 7.5)):
                webhooks = float(min(cap, base * 2 ** min(n - 1, 60)))
                assert sender.backoff_seconds(base, cap, n) == webhooks
            mail = min(timedelta(hours=1), timedelta(seconds=30) * 2 ** max(0, min(n - 1, 20)))
            assert outbox.retry_delay(n) == mail
        for interval in (0.0, 1.0, 45.0, 3600.0):
            runner = PeriodicRunner(cast(TaskContext, None), PeriodicTask("t", interval, _none))
            assert runner.delay() == interval
            for failures in range(1, 70):
                runner.state.failures = failures
                assert runner.delay() == float(min(300.0, interval * 2**failures))
        limit = LoginRateLimitSettings(delay_after=3, delay_base=2, delay_max=50)
        for failed in range(70):
            doublings = min(failed - 3, 32)
            login = timedelta(seconds=min(2 * 2**doublings, 50)) if failed >= 3 else timedelta()
            assert account_delay(limit, failed) == login


async def _none(_context: TaskContext) -> None:
    return None


def _dialect(name: str) -> Dialect:
    return make_url(f"{name}://").get_dialect()()


class TestDialect:
    def test_dialect_is_read_from_whatever_holds_it(
        self, kit_engine: AsyncEngine, tmp_path: Path
    ) -> None:
        name = kit_engine.dialect.name
        maker = create_sessionmaker(kit_engine)
        assert queue.dialect_of(kit_engine) == name
        assert queue.dialect_of(maker) == name
        assert queue.dialect_of(maker()) == name
        assert queue.dialect_of(kit_engine.sync_engine) == name
        assert queue.is_postgresql(kit_engine) is (backend() == "postgresql")
        assert queue.is_postgresql("postgresql") and not queue.is_postgresql("sqlite")

    def test_postgresql_locks_and_sqlite_does_not(self) -> None:
        statement = select(jobs.c.id)
        claim = queue.for_claim(statement, "postgresql")
        assert str(claim.compile(dialect=_dialect("postgresql"))).endswith("FOR UPDATE SKIP LOCKED")
        locked = queue.for_update(statement, "postgresql", of=jobs)
        sql = str(locked.compile(dialect=_dialect("postgresql")))
        assert sql.endswith("FOR UPDATE OF queue_kit_jobs")
        assert queue.for_claim(statement, "sqlite") is statement
        assert queue.for_update(statement, "sqlite") is statement

    def test_byte_order_and_inlined_integers(self) -> None:
        name = jobs.c.name
        pg, lite = _dialect("postgresql"), _dialect("sqlite")
        collated = queue.byte_order(name, "postgresql").compile(dialect=pg)
        assert str(collated) == 'queue_kit_jobs.name COLLATE "C"'
        assert queue.byte_order(name, "sqlite") is name
        ids = queue.in_integers(jobs.c.id, [3, 1], "postgresql", name="ids")
        assert str(ids.compile(dialect=pg)) == "queue_kit_jobs.id = ANY ('{3,1}'::bigint[])"
        inline = queue.in_integers(jobs.c.id, [3, 1], "sqlite", name="ids")
        compiled = inline.compile(dialect=lite, compile_kwargs={"render_postcompile": True})
        assert str(compiled) == "queue_kit_jobs.id IN (3, 1)"

    async def test_rows_are_read_back_in_byte_order(self, engine: AsyncEngine) -> None:
        now = utcnow()
        await _add(engine, "b", "B", "a", "_", "é", due_at=now, lease=None)
        async with engine.connect() as conn:
            key = queue.byte_order(jobs.c.name, conn)
            names = (await conn.scalars(select(jobs.c.name).order_by(key))).all()
            assert names == sorted(["b", "B", "a", "_", "é"], key=lambda s: s.encode())
            ids = await conn.scalars(select(jobs.c.id).where(jobs.c.name.in_(["B", "é"])))
            wanted = queue.in_integers(jobs.c.id, ids, conn, name="ids")
            assert set((await conn.scalars(select(jobs.c.name).where(wanted))).all()) == {"B", "é"}


class TestExclusive:
    async def test_one_holder_at_a_time_until_it_lets_go(
        self, kit_engine: AsyncEngine, tmp_path: Path
    ) -> None:
        other = create_engine(kit_engine.url.render_as_string(hide_password=False))
        try:
            async with queue.exclusive(kit_engine, "probe", tmp_path) as first:
                async with queue.exclusive(other, "probe", tmp_path) as second:
                    assert (first, second) == (True, False)
                async with queue.exclusive(other, "another", tmp_path) as unrelated:
                    assert unrelated is True
            async with queue.exclusive(other, "probe", tmp_path) as after:
                assert after is True
        finally:
            await other.dispose()

    async def test_a_connection_bound_sessionmaker_uses_the_file_lock(
        self, kit_engine: AsyncEngine, tmp_path: Path
    ) -> None:
        async with kit_engine.connect() as conn:
            maker = async_sessionmaker(bind=conn)
            async with queue.exclusive(maker.kw["bind"], "probe", tmp_path) as taken:
                assert taken is True
                assert (tmp_path / "probe.lock").exists()


async def test_a_claim_in_a_session_scope(kit_engine: AsyncEngine) -> None:
    """The sessions the queues claim in: the dialect is read from the session."""
    maker = create_sessionmaker(kit_engine)
    async with session_scope(maker) as session:
        await session.execute(delete(jobs))
        await session.execute(insert(jobs).values(name="s", due_at=utcnow(), hits=0))
    async with session_scope(maker) as session:
        rows = (await session.execute(queue.for_claim(_due(utcnow()), session))).all()
        assert [row.name for row in rows] == ["s"]
