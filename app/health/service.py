"""What `/api/v1/health` reads from the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.health import repository


async def schema_revision(session: AsyncSession) -> str | None:
    """The Alembic revision the database is at."""
    return await repository.schema_revision(session)


async def background_status(session: AsyncSession) -> dict[str, Any]:
    """Every periodic task's last run and the registry events' backlog, as every process
    recorded them."""
    return await repository.shared_status(session)
