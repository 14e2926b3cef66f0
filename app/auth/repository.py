"""Queries of the token hot path: each is one indexed statement."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApplicationToken, Namespace, RefreshToken, Registry, Role, TeamUser, User


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def application_token_with_user(
    session: AsyncSession, lookup: str
) -> tuple[ApplicationToken, User] | None:
    row = (
        await session.execute(
            select(ApplicationToken, User)
            .join(User, User.id == ApplicationToken.user_id)
            .where(ApplicationToken.lookup == lookup)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def refresh_token_with_user(
    session: AsyncSession, lookup: str
) -> tuple[RefreshToken, User] | None:
    row = (
        await session.execute(
            select(RefreshToken, User)
            .join(User, User.id == RefreshToken.user_id)
            .where(RefreshToken.lookup == lookup)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def registry_for_service(session: AsyncSession, service: str) -> Registry | None:
    return await session.scalar(
        select(Registry)
        .where(or_(Registry.hostname == service, Registry.external_hostname == service))
        .limit(1)
    )


async def namespaces_with_role(
    session: AsyncSession,
    *,
    registry_id: int,
    names: Sequence[str],
    include_global: bool,
    user_id: int | None,
) -> list[tuple[Namespace, Role | None]]:
    """The named namespaces (and the global one) with the caller's role in each one's team."""
    wanted: ColumnElement[bool] | None = Namespace.name.in_(names) if names else None
    if include_global:
        wanted = Namespace.global_.is_(True) if wanted is None else or_(wanted, Namespace.global_)
    if wanted is None:
        return []
    membership = and_(TeamUser.team_id == Namespace.team_id, TeamUser.user_id == user_id)
    statement = (
        select(Namespace, TeamUser.role)
        .outerjoin(TeamUser, membership)
        .where(Namespace.registry_id == registry_id, wanted)
    )
    return [(namespace, role) for namespace, role in (await session.execute(statement)).all()]
