"""Every query of browser sessions."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import WebSession


async def delete_by_lookup(session: AsyncSession, lookup: str, user_id: int) -> None:
    await session.execute(
        delete(WebSession).where(WebSession.lookup == lookup, WebSession.user_id == user_id)
    )
