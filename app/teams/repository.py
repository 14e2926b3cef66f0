from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import LdapCheck, Namespace, Role, Team, TeamUser, User


async def with_role(
    session: AsyncSession, team_id: int, user_id: int | None
) -> tuple[Team, Role | None] | None:
    row = (
        await session.execute(
            select(Team, TeamUser.role)
            .outerjoin(TeamUser, (TeamUser.team_id == Team.id) & (TeamUser.user_id == user_id))
            .where(Team.id == team_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def by_name(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name))


async def names_starting_with(session: AsyncSession, base: str) -> set[str]:
    """The team names that are `base` or start with it (LIKE: `_` and `%` match more, which
    only widens the set)."""
    statement = select(Team.name).where((Team.name == base) | Team.name.like(f"{base}%"))
    return set(await session.scalars(statement))


async def membership(session: AsyncSession, team_id: int, user_id: int) -> TeamUser | None:
    return await session.scalar(
        select(TeamUser).where(TeamUser.team_id == team_id, TeamUser.user_id == user_id)
    )


async def user_named(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def count_visible(session: AsyncSession, visible: ColumnElement[bool]) -> int:
    return int(await session.scalar(select(func.count(Team.id)).where(visible)) or 0)


TEAM_SORT = {"id": Team.id, "name": Team.name, "created_at": Team.created_at}


async def page_visible(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> Sequence[Team]:
    statement = select(Team).where(visible).order_by(*(order or [Team.id])).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.scalars(statement)).all()


async def members(session: AsyncSession, team_id: int) -> list[tuple[TeamUser, User]]:
    rows = await session.execute(
        select(TeamUser, User)
        .join(User, User.id == TeamUser.user_id)
        .where(TeamUser.team_id == team_id)
        .order_by(TeamUser.id)
    )
    return [(member, user) for member, user in rows.all()]


async def member(session: AsyncSession, team_id: int, member_id: int) -> TeamUser | None:
    return await session.scalar(
        select(TeamUser).where(TeamUser.team_id == team_id, TeamUser.id == member_id)
    )


async def owner_count(session: AsyncSession, team_id: int) -> int:
    statement = select(func.count(TeamUser.id)).where(
        TeamUser.team_id == team_id, TeamUser.role == Role.owner
    )
    return int(await session.scalar(statement) or 0)


async def owns_a_visible_team(session: AsyncSession, user_id: int) -> bool:
    statement = (
        select(TeamUser.id)
        .join(Team, Team.id == TeamUser.team_id)
        .where(TeamUser.user_id == user_id, TeamUser.role == Role.owner, Team.hidden.is_(False))
        .limit(1)
    )
    return await session.scalar(statement) is not None


async def lock_team(session: AsyncSession, team_id: int) -> None:
    """Serialises membership changes of one team (the last-owner rule is a count)."""
    await session.execute(select(Team.id).where(Team.id == team_id).with_for_update())


@dataclass(frozen=True)
class TeamStats:
    role: Role | None  # the caller's, from the `role` expression given
    members: int
    namespaces: int


async def stats(
    session: AsyncSession, team_ids: Collection[int], role: ColumnElement[Role | None]
) -> dict[int, TeamStats]:
    """The caller's role and the counts of every team of a page, in one query."""
    if not team_ids:
        return {}
    members = (
        select(func.count(TeamUser.id))
        .where(TeamUser.team_id == Team.id)
        .correlate(Team)
        .scalar_subquery()
    )
    namespaces = (
        select(func.count(Namespace.id))
        .where(Namespace.team_id == Team.id)
        .correlate(Team)
        .scalar_subquery()
    )
    statement = select(Team.id, role, members, namespaces).where(Team.id.in_(team_ids))
    return {
        row[0]: TeamStats(role=row[1], members=int(row[2]), namespaces=int(row[3]))
        for row in (await session.execute(statement)).all()
    }


async def syncable_teams_to_join(
    session: AsyncSession, names: Collection[str], user_id: int
) -> list[Team]:
    """The visible teams named (case-insensitively) one of `names`, not excluded from group
    sync, that the user is not a member of."""
    if not names:
        return []
    already = select(TeamUser.team_id).where(TeamUser.user_id == user_id)
    return list(
        await session.scalars(
            select(Team)
            .where(
                func.lower(Team.name).in_(sorted({name.lower() for name in names})),
                Team.hidden.is_(False),
                Team.ldap_group_checked != LdapCheck.disabled,
                Team.id.not_in(already),
            )
            .order_by(Team.id)
        )
    )
