"""Every query on `task_runs`: the shared record of the periodic passes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.models import TaskRun


async def last_started_at(session: AsyncSession, task: str) -> datetime | None:
    """When the task's last pass (by any process) started."""
    return await session.scalar(
        select(TaskRun.started_at).where(TaskRun.task == task).order_by(TaskRun.id.desc()).limit(1)
    )


async def record_start(session: AsyncSession, task: str, worker: str) -> int:
    run = TaskRun(task=task, worker=worker)
    session.add(run)
    await session.flush()
    return run.id


async def record_end(
    session: AsyncSession, run_id: int, *, summary: str | None, error: str | None
) -> None:
    run = await session.get(TaskRun, run_id)
    if run is not None:
        run.finished_at = utcnow()
        run.summary = summary
        run.error = error


async def keep_last_runs(session: AsyncSession, task: str, kept: int) -> None:
    """Deletes the task's runs older than its last `kept`."""
    oldest_kept = (
        select(TaskRun.id)
        .where(TaskRun.task == task)
        .order_by(TaskRun.id.desc())
        .offset(kept)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(delete(TaskRun).where(TaskRun.task == task, TaskRun.id <= oldest_kept))
