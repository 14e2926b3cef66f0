"""What every process's background work looks like, read from the database (so any replica's
/api/v1/health tells the same story, wherever the work runs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import EventStatus, RegistryEvent, TaskRun


async def schema_revision(session: AsyncSession) -> str | None:
    revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def shared_status(session: AsyncSession) -> dict[str, Any]:
    latest = select(func.max(TaskRun.id)).group_by(TaskRun.task)
    runs = (await session.scalars(select(TaskRun).where(TaskRun.id.in_(latest)))).all()
    tasks: dict[str, dict[str, Any]] = {
        run.task: {
            "last_started_at": _iso(run.started_at),
            "last_finished_at": _iso(run.finished_at),
            "worker": run.worker,
            "summary": run.summary,
            "last_error": run.error,
            "success": run.error is None,
        }
        for run in runs
    }
    pending, oldest = (
        await session.execute(
            select(func.count(RegistryEvent.id), func.min(RegistryEvent.received_at)).where(
                RegistryEvent.status == EventStatus.fresh
            )
        )
    ).one()
    failed = await session.scalar(
        select(func.count(RegistryEvent.id)).where(RegistryEvent.status == EventStatus.failed)
    )
    tasks["registry_events"] = {
        "pending": int(pending or 0),
        "oldest_pending_received_at": _iso(oldest),
        "failed": int(failed or 0),
        "success": True,
    }
    return tasks
