"""Periodic passes that run once at a time across every process sharing the database.

A pass takes an exclusive lock named after its task (`app.core.queue.exclusive`), then runs
only if the last pass (by any process) started at least `interval` seconds ago, and records
itself in `task_runs`:
- PostgreSQL: a session-level advisory lock on a connection held for the pass. If the process
  dies, its connection closes and the lock is gone: no lease to expire, no leader to elect.
- SQLite (one machine by nature): an exclusive `flock` on a file in the data directory, which
  the kernel releases when the process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.core import queue
from app.core.db import session_scope, utcnow
from app.jobs import repository
from app.jobs.context import TaskContext

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


def exclusive(context: TaskContext, name: str) -> contextlib.AbstractAsyncContextManager[bool]:
    """Yields whether this process holds task `name`'s lock (never waits for it)."""
    bind = context.sessionmaker.kw["bind"]
    return queue.exclusive(bind, name, context.settings.data_dir / "locks")


async def _due(context: TaskContext, task: PeriodicTask) -> bool:
    async with session_scope(context.sessionmaker) as session:
        last = await repository.last_started_at(session, task.name)
    return last is None or utcnow() - last >= timedelta(seconds=task.interval)


async def _record_start(context: TaskContext, task: PeriodicTask) -> int:
    async with session_scope(context.sessionmaker) as session:
        return await repository.record_start(session, task.name, worker_id())


async def _record_end(
    context: TaskContext, task: PeriodicTask, run_id: int, summary: str | None, error: str | None
) -> None:
    async with session_scope(context.sessionmaker) as session:
        await repository.record_end(session, run_id, summary=summary, error=error)
        await repository.keep_last_runs(session, task.name, KEPT_RUNS)


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
        backoff = queue.Backoff(first=self.task.interval * 2, cap=MAX_BACKOFF_SECONDS)
        return backoff.seconds(self.state.failures)

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
