from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Role, Team, TeamUser


async def with_team_and_role(
    session: AsyncSession, namespace_id: int, user_id: int | None
) -> tuple[Namespace, Team, Role | None] | None:
    row = (
        await session.execute(
            select(Namespace, Team, TeamUser.role)
            .join(Team, Team.id == Namespace.team_id)
            .outerjoin(
                TeamUser, (TeamUser.team_id == Namespace.team_id) & (TeamUser.user_id == user_id)
            )
            .where(Namespace.id == namespace_id)
        )
    ).first()
    return None if row is None else (row[0], row[1], row[2])
