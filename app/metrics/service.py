"""What `/metrics` reads from the database at scrape time."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.db import read_scope
from app.metrics import repository
from app.metrics.repository import QueueFigures

__all__ = ["QueueFigures", "queue_figures"]


async def queue_figures(bind: AsyncEngine | AsyncConnection) -> QueueFigures:
    """The queues' figures, read outside any transaction (`read_scope`)."""
    async with read_scope(bind) as conn:
        return await repository.queue_figures(conn)
