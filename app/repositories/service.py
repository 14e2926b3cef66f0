"""Repositories and tags: deleting a tag from the registry without touching its siblings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.errors import AppError, Forbidden, NotFound
from app.models import Namespace, Registry, Repository, Role, Tag, TeamUser
from app.registries.client import RegistryClient, RegistryError


class RegistryFailed(AppError):
    """The registry refused or did not answer: nothing was changed here."""

    status_code = 502


@dataclass(frozen=True)
class TagContext:
    tag: Tag
    repository: Repository
    namespace: Namespace
    registry: Registry
    facts: policy.NamespaceFacts

    @property
    def full_name(self) -> str:
        if self.namespace.global_:
            return self.repository.name
        return f"{self.namespace.name}/{self.repository.name}"


async def load_tag(session: AsyncSession, principal: Principal, tag_id: int) -> TagContext:
    """The tag, if the caller may see it (404 otherwise: existence stays hidden)."""
    row = (
        await session.execute(
            select(Tag, Repository, Namespace, Registry, TeamUser.role)
            .join(Repository, Repository.id == Tag.repository_id)
            .join(Namespace, Namespace.id == Repository.namespace_id)
            .join(Registry, Registry.id == Namespace.registry_id)
            .outerjoin(
                TeamUser,
                (TeamUser.team_id == Namespace.team_id) & (TeamUser.user_id == principal.user_id),
            )
            .where(Tag.id == tag_id)
        )
    ).first()
    if row is None:
        raise NotFound("Not found: no such tag")
    tag, repository, namespace, registry, role = row
    facts = policy.NamespaceFacts(
        id=namespace.id,
        visibility=namespace.visibility,
        global_=namespace.global_,
        role=role if isinstance(role, Role) or role is None else Role(role),
    )
    if not policy.can_pull(principal, facts):
        raise NotFound("Not found: no such tag")
    return TagContext(tag, repository, namespace, registry, facts)


async def delete_tag(
    session: AsyncSession,
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    tag_id: int,
) -> None:
    """Delete one tag in the registry, then here. Tags that share its digest stay (Portus deleted
    the digest and lost them). If the registry fails, nothing is changed here."""
    context = await load_tag(session, principal, tag_id)
    if not settings.delete.enabled:
        raise Forbidden("Authorization fails: deleting is disabled (delete.enabled)")
    if not policy.can_delete(principal, context.facts, settings):
        raise Forbidden("Authorization fails: you may not delete tags in this namespace")
    tag, repository = context.tag, context.repository
    siblings = await session.scalar(
        select(func.count(Tag.id)).where(
            Tag.repository_id == repository.id, Tag.digest == tag.digest, Tag.id != tag.id
        )
    )
    client = client_for(context.registry)
    try:
        if siblings:
            await client.untag(context.full_name, tag.name, tag.digest)
        else:
            await client.delete_manifest(context.full_name, tag.digest)
    except RegistryError as exc:
        raise RegistryFailed(f"the registry did not delete the tag: {exc}") from exc

    activities.record(
        session,
        "repository.delete",
        trackable_type="Repository",
        trackable_id=repository.id,
        owner_id=principal.user_id,
        recipient_type="Tag",
        recipient_id=tag.id,
        parameters={
            "repository_name": repository.name,
            "namespace_id": context.namespace.id,
            "namespace_name": context.namespace.name,
            "tag_name": tag.name,
        },
    )
    await session.delete(tag)
    await session.flush()
    remaining = await session.scalar(
        select(func.count(Tag.id)).where(Tag.repository_id == repository.id)
    )
    if not remaining:
        activities.record(
            session,
            "namespace.delete",
            trackable_type="Namespace",
            trackable_id=context.namespace.id,
            owner_id=principal.user_id,
            parameters={
                "repository_name": repository.name,
                "namespace_id": context.namespace.id,
                "namespace_name": context.namespace.name,
            },
        )
        await session.delete(repository)
        await session.flush()
