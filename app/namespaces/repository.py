from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import (
    Namespace,
    Registry,
    Repository,
    RepositoryCountChange,
    Role,
    Team,
    TeamUser,
    User,
    Webhook,
)


async def first_registry(session: AsyncSession) -> Registry | None:
    return await session.scalar(select(Registry).order_by(Registry.id).limit(1))


async def registry_hosts(session: AsyncSession, registry_ids: set[int]) -> dict[int, str]:
    """The host each registry is pulled from (its external hostname, else its hostname)."""
    if not registry_ids:
        return {}
    rows = await session.execute(
        select(Registry.id, Registry.external_hostname, Registry.hostname).where(
            Registry.id.in_(registry_ids)
        )
    )
    return {id_: external or host for id_, external, host in rows}


async def global_namespace(session: AsyncSession, registry_id: int) -> Namespace | None:
    return await session.scalar(
        select(Namespace).where(Namespace.registry_id == registry_id, Namespace.global_)
    )


async def by_name(session: AsyncSession, registry_id: int, name: str) -> Namespace | None:
    """A namespace of that name, never the global one (whatever its stored name)."""
    return await session.scalar(
        select(Namespace).where(
            Namespace.registry_id == registry_id,
            Namespace.name == name,
            Namespace.global_.is_(False),
        )
    )


async def names_starting_with(session: AsyncSession, registry_id: int, base: str) -> set[str]:
    """The registry's namespace names that start with `base` (LIKE: `_` and `%` match more,
    which only widens the set)."""
    statement = select(Namespace.name).where(
        Namespace.registry_id == registry_id, Namespace.name.like(f"{base}%")
    )
    return set(await session.scalars(statement))


async def unhidden_team_named(session: AsyncSession, name: str) -> Team | None:
    return await session.scalar(select(Team).where(Team.name == name, Team.hidden.is_(False)))


async def team_role(session: AsyncSession, team_id: int, user_id: int | None) -> Role | None:
    return await session.scalar(
        select(TeamUser.role).where(TeamUser.team_id == team_id, TeamUser.user_id == user_id)
    )


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


@dataclass(frozen=True)
class NamespaceStats:
    role: Role | None  # the caller's, from the `role` expression given
    repositories: int
    webhooks: int
    personal: bool  # some user's own namespace


async def stats(
    session: AsyncSession, namespace_ids: Collection[int], role: ColumnElement[Role | None]
) -> dict[int, NamespaceStats]:
    """The caller's role, the counts and the personal flag of every namespace of a page, in one
    query: repositories from the namespaces' counters and their pending changes (as the
    repository list's total), webhooks counted with their index."""
    if not namespace_ids:
        return {}
    pending = (
        select(func.coalesce(func.sum(RepositoryCountChange.delta), 0))
        .where(RepositoryCountChange.namespace_id == Namespace.id)
        .correlate(Namespace)
        .scalar_subquery()
    )
    webhooks = (
        select(func.count(Webhook.id))
        .where(Webhook.namespace_id == Namespace.id)
        .correlate(Namespace)
        .scalar_subquery()
    )
    personal = exists().where(User.namespace_id == Namespace.id).correlate(Namespace)
    statement = select(
        Namespace.id, role, Namespace.repositories_count + pending, webhooks, personal
    ).where(Namespace.id.in_(namespace_ids))
    return {
        row[0]: NamespaceStats(
            role=row[1], repositories=int(row[2]), webhooks=int(row[3]), personal=bool(row[4])
        )
        for row in (await session.execute(statement)).all()
    }
