"""Periodic passes that run once at a time across every process sharing the database.

A pass takes an exclusive lock named after its task, then runs only if the last pass (by any
process) started at least `interval` seconds ago, and records itself in `task_runs`:
- PostgreSQL: a session-level advisory lock on a connection held for the pass. If the process
  dies, its connection closes and the lock is gone: no lease to expire, no leader to elect.
- SQLite (one machine by nature): an exclusive `flock` on a file in the data directory, which
  the kernel releases when the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import session_scope, utcnow
from app.core.files import private_directory
from app.jobs.context import TaskContext
from app.models import TaskRun

logger = logging.getLogger(__name__)

KEPT_RUNS = 200  # per task: the history health and the tests read
MAX_BACKOFF_SECONDS = 300.0

# A pass returns a one-line summary of what it did (None: nothing worth saying).
PassFunction = Callable[[TaskContext], Awaitable[str | None]]


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval: float  # seconds between the starts of two passes, across all processes
    run: PassFunction
    # Once per process start (sync `initial` / `on-start`), unless another process's pass
    # started less than `interval` ago.
    once: bool = False


class PassFailed(Exception):
    """A pass that did some of its work and failed the rest: recorded, and backed off."""


@dataclass
class TaskState:
    """This process's view of one task: consecutive failures drive its back-off."""

    failures: int = 0
    last_error: str | None = None
    last_run_at: datetime | None = None


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a task name."""
    digest = hashlib.sha256(f"portus-task:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    key = lock_key(name)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        taken = bool(
            await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        )
        try:
            yield taken
        finally:
            if taken:
                await _unlock(connection, key)


async def _unlock(connection: AsyncConnection, key: int) -> None:
    try:
        await asyncio.shield(
            connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        )
    except BaseException:
        # A connection that may still hold the lock must never go back to the pool.
        await connection.invalidate()
        raise


def _open_lock_file(directory: Path, name: str) -> int:
    private_directory(directory)
    return os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.asynccontextmanager
async def _file_lock(directory: Path, name: str) -> AsyncIterator[bool]:
    descriptor = _open_lock_file(directory, name)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock


def exclusive(context: TaskContext, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
    """Yields whether this process holds task `name`'s lock (never waits for it)."""
    bind = context.sessionmaker.kw["bind"]
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return _advisory_lock(bind, name)
    return _file_lock(context.settings.data_dir / "locks", name)


async def _due(context: TaskContext, task: PeriodicTask) -> bool:
    async with session_scope(context.sessionmaker) as session:
        last = await session.scalar(
            select(TaskRun.started_at)
            .where(TaskRun.task == task.name)
            .order_by(TaskRun.id.desc())
            .limit(1)
        )
    return last is None or utcnow() - last >= timedelta(seconds=task.interval)


async def _record_start(context: TaskContext, task: PeriodicTask) -> int:
    async with session_scope(context.sessionmaker) as session:
        run = TaskRun(task=task.name, worker=worker_id())
        session.add(run)
        await session.flush()
        return run.id


async def _record_end(
    context: TaskContext, task: PeriodicTask, run_id: int, summary: str | None, error: str | None
) -> None:
    async with session_scope(context.sessionmaker) as session:
        run = await session.get(TaskRun, run_id)
        if run is not None:
            run.finished_at = utcnow()
            run.summary = summary
            run.error = error
        oldest_kept = (
            select(TaskRun.id)
            .where(TaskRun.task == task.name)
            .order_by(TaskRun.id.desc())
            .offset(KEPT_RUNS)
            .limit(1)
            .scalar_subquery()
        )
        await session.execute(
            delete(TaskRun).where(TaskRun.task == task.name, TaskRun.id <= oldest_kept)
        )


async def run_pass(context: TaskContext, task: PeriodicTask, *, force: bool = False) -> bool:
    """One pass if this process gets the lock and the task is due (or `force`d); returns
    whether it ran. The pass's own exception is recorded in `task_runs` and raised."""
    async with exclusive(context, task.name) as taken:
        if not taken or not (force or await _due(context, task)):
            return False
        run_id = await _record_start(context, task)
        try:
            summary = await task.run(context)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.shield(_record_end(context, task, run_id, None, "cancelled"))
            raise
        except Exception as exc:
            await _record_end(context, task, run_id, None, f"{exc.__class__.__name__}: {exc}")
            raise
        await _record_end(context, task, run_id, summary, None)
        return True


@dataclass
class PeriodicRunner:
    context: TaskContext
    task: PeriodicTask
    state: TaskState = field(default_factory=TaskState)

    def delay(self) -> float:
        """The interval, doubled for each consecutive failure (capped): a registry that is
        down is asked less and less often, and the loop never spins."""
        if not self.state.failures:
            return self.task.interval
        return float(min(MAX_BACKOFF_SECONDS, self.task.interval * 2**self.state.failures))

    async def run_forever(self) -> None:
        while True:
            try:
                if await run_pass(self.context, self.task):
                    self.state.last_run_at = utcnow()
                self.state.failures = 0
                self.state.last_error = None
                if self.task.once:
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.state.failures += 1
                self.state.last_error = f"{exc.__class__.__name__}: {exc}"
                logger.exception(
                    "background task %s failed (%d in a row)", self.task.name, self.state.failures
                )
            await asyncio.sleep(self.delay())
