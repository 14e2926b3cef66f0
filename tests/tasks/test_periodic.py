"""Periodic passes: once at a time across processes, spaced by their interval, recorded, and
backed off when they fail. "Processes" here are separate engines (separate connections, as two
replicas have) on one throwaway database, or on SQLite separate file-lock holders."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.jobs.context import TaskContext
from app.jobs.periodic import PeriodicRunner, PeriodicTask, run_pass
from app.models import Namespace, Repository, RepositoryCountChange, TaskRun
from app.repositories.service import fold_repository_counts
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database


@pytest.fixture
async def own_database(tmp_path: Path) -> AsyncIterator[str]:
    async with throwaway_database(tmp_path) as url:
        yield url


@pytest.fixture
async def contexts(
    own_database: str, settings: Settings, tmp_path: Path
) -> AsyncIterator[list[TaskContext]]:
    """Two "processes": an engine each, one data directory (the same machine for SQLite)."""
    shared = settings.model_copy(update={"data_dir": tmp_path / "data"})
    engines: list[AsyncEngine] = [create_engine(own_database) for _ in range(2)]
    async with httpx.AsyncClient() as http:
        yield [
            TaskContext(
                settings=shared,
                sessionmaker=create_sessionmaker(engine),
                http=http,
                client_for=lambda registry: pytest.fail("no registry in these tests"),
            )
            for engine in engines
        ]
    for engine in engines:
        await engine.dispose()


async def _runs(context: TaskContext, name: str) -> list[TaskRun]:
    async with session_scope(context.sessionmaker) as session:
        statement = select(TaskRun).where(TaskRun.task == name).order_by(TaskRun.id)
        return list((await session.scalars(statement)).all())


async def test_passes_never_overlap_across_processes(contexts: list[TaskContext]) -> None:
    running = 0
    most = 0
    passes = 0

    async def slow_pass(_context: TaskContext) -> str:
        nonlocal running, most, passes
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        passes += 1
        return "did it"

    task = PeriodicTask("overlap_probe", 0.0, slow_pass)
    # 20 attempts from each "process" at once, in waves
    for _ in range(10):
        results = await asyncio.gather(
            *(run_pass(context, task) for context in contexts for _ in range(2))
        )
        assert results.count(True) == 1  # exactly one holder per wave
    assert most == 1
    runs = await _runs(contexts[0], "overlap_probe")
    assert len(runs) == passes == 10
    for before, after in itertools.pairwise(runs):
        assert before.finished_at is not None and before.finished_at <= after.started_at
    assert {run.summary for run in runs} == {"did it"}


async def test_a_pass_waits_for_its_interval_whoever_ran_it(contexts: list[TaskContext]) -> None:
    calls = 0

    async def count(_context: TaskContext) -> None:
        nonlocal calls
        calls += 1

    task = PeriodicTask("interval_probe", 3600.0, count)
    assert await run_pass(contexts[0], task) is True
    assert await run_pass(contexts[1], task) is False  # not due: the other process ran it
    assert await run_pass(contexts[1], task, force=True) is True
    assert calls == 2


async def test_failures_are_recorded_and_backed_off(contexts: list[TaskContext]) -> None:
    async def broken(_context: TaskContext) -> None:
        raise RuntimeError("registry down")

    task = PeriodicTask("broken_probe", 1.0, broken)
    runner = PeriodicRunner(contexts[0], task)
    loop = asyncio.create_task(runner.run_forever())
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if runner.state.failures >= 1:
                break
    finally:
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
    assert runner.state.failures == 1
    assert runner.state.last_error == "RuntimeError: registry down"
    assert runner.delay() == 2.0  # doubled after one failure
    runner.state.failures = 20
    assert runner.delay() == 300.0  # capped
    [run] = await _runs(contexts[0], "broken_probe")
    assert run.error == "RuntimeError: registry down"
    assert run.finished_at is not None


async def test_fold_pass_keeps_counts_exact(contexts: list[TaskContext]) -> None:
    context = contexts[0]
    async with session_scope(context.sessionmaker) as session:
        registry = await factories.create_registry(session)
        namespace = await factories.create_namespace(session, registry, name="folded")
        session.add_all(Repository(name=f"r{i}", namespace_id=namespace.id) for i in range(30))
    summary = await fold_repository_counts(context)
    assert summary == "folded 30 repository count changes"
    async with session_scope(context.sessionmaker) as session:
        assert await session.scalar(select(func.count(RepositoryCountChange.id))) == 0
        counter = select(Namespace.repositories_count).where(Namespace.id == namespace.id)
        assert await session.scalar(counter) == 30
    assert await fold_repository_counts(context) is None
