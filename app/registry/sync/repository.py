"""The queries of the catalog sync."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import queue
from app.models import Namespace, Registry, Repository, Tag


async def registries(session: AsyncSession) -> Sequence[Registry]:
    return (await session.scalars(select(Registry).order_by(Registry.id))).all()


async def any_repository(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(Repository.id.is_not(None)))))


async def full_names(session: AsyncSession, registry_id: int) -> set[str]:
    """`namespace/repository` (or `repository` in the global namespace) of every repository."""
    rows = await session.execute(
        select(Namespace.name, Namespace.global_, Repository.name)
        .join(Repository, Repository.namespace_id == Namespace.id)
        .where(Namespace.registry_id == registry_id)
    )
    return {name if global_ else f"{ns}/{name}" for ns, global_, name in rows.all()}


async def repository_by_name(
    session: AsyncSession, namespace: Namespace, name: str
) -> Repository | None:
    return await session.scalar(
        select(Repository).where(Repository.namespace_id == namespace.id, Repository.name == name)
    )


async def tags_of(session: AsyncSession, repository_id: int) -> dict[str, Tag]:
    """The repository's tags, locked on PostgreSQL until the transaction ends (event processing
    then waits rather than writes a row the sync is about to judge)."""
    statement = queue.for_update(select(Tag).where(Tag.repository_id == repository_id), session)
    return {tag.name: tag for tag in await session.scalars(statement)}


async def tag_digests(
    session: AsyncSession, registry_id: int, full_name: str
) -> dict[str, tuple[str, bool]]:
    """tag -> (digest, whether its size is known) of the repository `full_name`."""
    head, sep, rest = full_name.partition("/")
    statement = (
        select(Tag.name, Tag.digest, Tag.size)
        .join(Repository, Repository.id == Tag.repository_id)
        .join(Namespace, Namespace.id == Repository.namespace_id)
        .where(Namespace.registry_id == registry_id)
    )
    global_ = statement.where(Namespace.global_, Repository.name == full_name)
    if sep:
        named = statement.where(
            Namespace.global_.is_(False), Namespace.name == head, Repository.name == rest
        )
        rows = (await session.execute(named)).all()
    else:
        rows = (await session.execute(global_)).all()
    return {name: (digest, size is not None) for name, digest, size in rows}
