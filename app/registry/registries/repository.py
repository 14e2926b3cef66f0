"""The queries of the registry records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Registry, Repository


async def all_registries(session: AsyncSession) -> Sequence[Registry]:
    return (await session.scalars(select(Registry).order_by(Registry.id))).all()


async def repository_count(session: AsyncSession, registry_id: int) -> int:
    """The repositories of every namespace of the registry."""
    count = await session.scalar(
        select(func.count(Repository.id))
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Namespace.registry_id == registry_id)
    )
    return int(count or 0)


async def name_taken(session: AsyncSession, name: str) -> bool:
    found = await session.scalar(select(Registry.id).where(Registry.name == name).limit(1))
    return found is not None
