"""Teams: for now the hidden ones (personal teams, the registry's global team)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Role, Team, TeamUser


async def unique_team_name(session: AsyncSession, base: str) -> str:
    taken = set(
        await session.scalars(
            select(Team.name).where((Team.name == base) | Team.name.like(f"{base}%"))
        )
    )
    if base not in taken:
        return base
    suffix = 1
    while f"{base}{suffix}" in taken:
        suffix += 1
    return f"{base}{suffix}"


async def create_hidden_team(session: AsyncSession, name: str, owner_ids: list[int]) -> Team:
    team = Team(name=name, hidden=True)
    session.add(team)
    await session.flush()
    for user_id in owner_ids:
        session.add(TeamUser(team_id=team.id, user_id=user_id, role=Role.owner))
    await session.flush()
    return team


async def set_owner(session: AsyncSession, team_id: int, user_id: int) -> None:
    membership = await session.scalar(
        select(TeamUser).where(TeamUser.team_id == team_id, TeamUser.user_id == user_id)
    )
    if membership is None:
        session.add(TeamUser(team_id=team_id, user_id=user_id, role=Role.owner))
    else:
        membership.role = Role.owner
    await session.flush()
