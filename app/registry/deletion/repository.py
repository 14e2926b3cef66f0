"""The queries of registry-side deletion."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Repository, Role, Tag, Team, TeamUser, User


async def sibling_count(session: AsyncSession, tag: Tag) -> int:
    """Other tags of the tag's repository with the same digest."""
    count = await session.scalar(
        select(func.count(Tag.id)).where(
            Tag.repository_id == tag.repository_id, Tag.digest == tag.digest, Tag.id != tag.id
        )
    )
    return int(count or 0)


async def repositories_of(
    session: AsyncSession, namespace_id: int, repository_id: int | None = None
) -> Sequence[Repository]:
    """The namespace's repositories (only `repository_id`, if given), oldest first."""
    statement = select(Repository).where(Repository.namespace_id == namespace_id)
    if repository_id is not None:
        statement = statement.where(Repository.id == repository_id)
    return (await session.scalars(statement.order_by(Repository.id))).all()


async def digests_of(session: AsyncSession, repository_id: int) -> list[str]:
    """The distinct digests of the repository's tags, sorted."""
    return sorted(
        set(await session.scalars(select(Tag.digest).where(Tag.repository_id == repository_id)))
    )


async def tags_with_digest(session: AsyncSession, repository_id: int, digest: str) -> Sequence[Tag]:
    return (
        await session.scalars(
            select(Tag).where(Tag.repository_id == repository_id, Tag.digest == digest)
        )
    ).all()


async def is_personal_namespace(session: AsyncSession, namespace_id: int) -> bool:
    """Whether a user has the namespace as their own."""
    count = await session.scalar(
        select(func.count(User.id)).where(User.namespace_id == namespace_id)
    )
    return (count or 0) > 0


async def namespace_id_of_repository(session: AsyncSession, repository_id: int) -> int | None:
    """The repository's namespace; None if there is no such repository."""
    found = (
        await session.execute(select(Repository.namespace_id).where(Repository.id == repository_id))
    ).first()
    return None if found is None else found[0]


async def team_role(session: AsyncSession, team_id: int, user_id: int | None) -> Role | None:
    """The user's role in the team (None for no user, or no member)."""
    return await session.scalar(
        select(TeamUser.role).where(TeamUser.team_id == team_id, TeamUser.user_id == user_id)
    )


async def namespace_ids_of_team(session: AsyncSession, team_id: int) -> list[int]:
    return list(await session.scalars(select(Namespace.id).where(Namespace.team_id == team_id)))


async def visible_team_by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name, Team.hidden.is_(False)))


async def namespaces_by_ids(session: AsyncSession, namespace_ids: list[int]) -> Sequence[Namespace]:
    return (await session.scalars(select(Namespace).where(Namespace.id.in_(namespace_ids)))).all()
