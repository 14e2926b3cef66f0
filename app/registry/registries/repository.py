"""The queries of the registry records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Registry, Repository, User


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


async def admin_ids(session: AsyncSession) -> list[int]:
    """The administrators: the new registry's global namespace is their hidden team's."""
    return list(await session.scalars(select(User.id).where(User.admin)))


async def users_without_namespace(session: AsyncSession) -> Sequence[User]:
    """The people (not bots) who get a personal namespace when the registry is created."""
    return (
        await session.scalars(
            select(User).where(User.bot.is_(False), User.namespace_id.is_(None)).order_by(User.id)
        )
    ).all()
