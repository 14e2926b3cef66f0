"""Namespaces: personal ones, the registry's global one, and those created by an admin's push."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.models import Namespace, Registry, User, Visibility
from app.teams import service as teams

NAME_PATTERN = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
NAME_MAX_LENGTH = 255


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX_LENGTH and NAME_PATTERN.match(name) is not None


def normalize_name(username: str) -> str:
    """Portus's rule: lowercase, strip non-alphanumerics at both ends, other characters become
    `_`, and runs of separators collapse to one `_`."""
    name = username.lower()
    name = re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", name)
    name = re.sub(r"[^a-z0-9._-]", "_", name)
    name = re.sub(r"[._-]{2,}", "_", name)
    return name


async def unique_namespace_name(session: AsyncSession, registry_id: int, base: str) -> str:
    taken = set(
        await session.scalars(
            select(Namespace.name).where(
                Namespace.registry_id == registry_id, Namespace.name.like(f"{base}%")
            )
        )
    )
    if base not in taken:
        return base
    suffix = 1
    while f"{base}{suffix}" in taken:
        suffix += 1
    return f"{base}{suffix}"


async def get_registry(session: AsyncSession) -> Registry | None:
    """Portus supports one registry: the first one."""
    return await session.scalar(select(Registry).order_by(Registry.id).limit(1))


async def global_namespace(session: AsyncSession, registry_id: int) -> Namespace | None:
    return await session.scalar(
        select(Namespace).where(Namespace.registry_id == registry_id, Namespace.global_)
    )


async def create_personal_namespace(session: AsyncSession, registry: Registry, user: User) -> None:
    """A private namespace owned by a hidden team whose only member (owner) is the user."""
    base = normalize_name(user.username)
    if not is_valid_name(base):
        raise ValueError(f"username {user.username!r} cannot be made into a namespace name")
    name = await unique_namespace_name(session, registry.id, base)
    team = await teams.create_hidden_team(
        session, await teams.unique_team_name(session, name), [user.id]
    )
    namespace = Namespace(
        name=name,
        registry_id=registry.id,
        team_id=team.id,
        visibility=Visibility.private,
        description=f"This personal namespace belongs to {user.username}.",
    )
    session.add(namespace)
    await session.flush()
    user.namespace_id = namespace.id
    activities.record(
        session,
        "namespace.create",
        trackable_type="Namespace",
        trackable_id=namespace.id,
        owner_id=user.id,
        parameters={"team": team.name},
    )
    await session.flush()


async def create_global_namespace(
    session: AsyncSession, registry: Registry, admin_ids: list[int]
) -> Namespace:
    team = await teams.create_hidden_team(session, f"portus_global_team_{registry.id}", admin_ids)
    namespace = Namespace(
        name=f"portus_global_namespace_{registry.id}",
        registry_id=registry.id,
        team_id=team.id,
        global_=True,
        visibility=Visibility.public,
        description="The global namespace of the registry (repositories without a namespace).",
    )
    session.add(namespace)
    await session.flush()
    return namespace


async def create_pushed_namespace(
    session: AsyncSession, registry: Registry, name: str, actor_id: int | None
) -> Namespace:
    """A namespace that an administrator pushed to before it existed: private, global team."""
    global_ns = await global_namespace(session, registry.id)
    if global_ns is None:
        raise LookupError("the registry has no global namespace")
    namespace = Namespace(
        name=name,
        registry_id=registry.id,
        team_id=global_ns.team_id,
        visibility=Visibility.private,
    )
    session.add(namespace)
    await session.flush()
    activities.record(
        session,
        "namespace.create",
        trackable_type="Namespace",
        trackable_id=namespace.id,
        owner_id=actor_id,
        parameters={"team": None, "reason": "pushed by an administrator"},
    )
    return namespace


async def namespace_by_name(
    session: AsyncSession, registry_id: int, name: str | None
) -> Namespace | None:
    if name is None:
        return await global_namespace(session, registry_id)
    # The global namespace is reached without a prefix only: `portus_global_namespace_1/app`
    # names a namespace of that name, not the global one.
    return await session.scalar(
        select(Namespace).where(
            Namespace.registry_id == registry_id,
            Namespace.name == name,
            Namespace.global_.is_(False),
        )
    )
