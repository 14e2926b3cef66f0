from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Namespace, Repository, Role, Team, TeamUser


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


async def repository_count(session: AsyncSession, namespace_id: int) -> int:
    statement = select(func.count(Repository.id)).where(Repository.namespace_id == namespace_id)
    return int(await session.scalar(statement) or 0)


NAMESPACE_SORT = {
    "id": Namespace.id,
    "name": Namespace.name,
    "created_at": Namespace.created_at,
    "updated_at": Namespace.updated_at,
}


async def page_readable(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> tuple[int, list[tuple[Namespace, Team]]]:
    total = await session.scalar(select(func.count(Namespace.id)).where(visible))
    statement = (
        select(Namespace, Team)
        .join(Team, Team.id == Namespace.team_id)
        .where(visible)
        .order_by(*(order or [Namespace.id]))
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.execute(statement)).all()
    return int(total or 0), [(namespace, team) for namespace, team in rows]
