"""Deleting in the registry, then here: tags (without touching their siblings), repositories,
namespaces and teams. The registry is asked first, one image per transaction, so what is left
here is what the registry still serves (the one exception to one request, one transaction)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.db import session_scope
from app.core.errors import AppError, Forbidden, Invalid, NotFound
from app.models import Namespace, Registry, Repository, Team
from app.namespaces import service as namespaces
from app.registry.client import RegistryClient, RegistryError
from app.registry.deletion import repository as queries
from app.repositories.service import TagContext, forget_tags, load_tag
from app.teams import service as teams


class RegistryFailed(AppError):
    """The registry refused or did not answer: nothing was changed here."""

    status_code = 502


async def delete_tag(
    session: AsyncSession,
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    tag_id: int,
) -> None:
    """Delete one tag in the registry, then here (see `remove_tag`), if the caller may."""
    context = await load_tag(session, principal, tag_id)
    refusal = policy.tag_delete_refusal(principal, context.facts, settings)
    if refusal is not None:
        raise Forbidden(f"Authorization fails: {refusal}")
    await remove_tag(session, client_for(context.registry), context, actor_id=principal.user_id)


async def remove_tag(
    session: AsyncSession,
    client: RegistryClient,
    context: TagContext,
    *,
    actor_id: int | None,
    reason: str | None = None,
) -> None:
    """Delete one tag in the registry, then here; no permission check (the callers do theirs).

    Tags that share its digest stay (Portus deleted the digest and lost them): with siblings the
    tag alone is untagged, otherwise its manifest is deleted. If the registry fails, nothing is
    changed here (`RegistryFailed`)."""
    tag, repository = context.tag, context.repository
    siblings = await queries.sibling_count(session, tag)
    try:
        if siblings:
            await client.untag(context.full_name, tag.name, tag.digest)
        else:
            await client.delete_manifest(context.full_name, tag.digest)
    except RegistryError as exc:
        raise RegistryFailed(f"the registry did not delete the tag: {exc}") from exc
    await forget_tags(
        session, context.namespace, repository, [tag], actor_id=actor_id, reason=reason
    )


# --- whole repositories and namespaces -------------------------------------------------------
@dataclass(frozen=True)
class RepositoryToRemove:
    id: int
    name: str
    full_name: str
    digests: list[str]


async def _repositories_of(
    session: AsyncSession, namespace: Namespace, repository_id: int | None = None
) -> list[RepositoryToRemove]:
    found = []
    for repository in await queries.repositories_of(session, namespace.id, repository_id):
        digests = await queries.digests_of(session, repository.id)
        full_name = repository.name if namespace.global_ else f"{namespace.name}/{repository.name}"
        found.append(RepositoryToRemove(repository.id, repository.name, full_name, digests))
    return found


async def remove_repository(
    sessionmaker: async_sessionmaker[AsyncSession],
    client: RegistryClient,
    namespace: Namespace,
    target: RepositoryToRemove,
    actor_id: int | None,
) -> None:
    """Each image is deleted in the registry, then its tags here, in a transaction of its own:
    if the registry fails midway, what is left here is exactly what the registry still serves,
    and running the delete again finishes the job (a manifest already gone counts as done)."""
    for digest in target.digests:
        try:
            await client.delete_manifest(target.full_name, digest)
        except RegistryError as exc:
            raise RegistryFailed(
                f"the registry failed while deleting {target.full_name}: {exc}. What was "
                "deleted is gone here too; retry to delete the rest"
            ) from exc
        async with session_scope(sessionmaker) as session:
            repository = await session.get(Repository, target.id)
            if repository is None:
                return  # removed meanwhile (a concurrent delete of the same repository)
            tags = await queries.tags_with_digest(session, target.id, digest)
            await forget_tags(session, namespace, repository, tags, actor_id=actor_id)
    async with session_scope(sessionmaker) as session:
        # a repository without tags (or whose last tags went before): it goes too
        repository = await session.get(Repository, target.id)
        if repository is not None:
            await forget_tags(session, namespace, repository, [], actor_id=actor_id)


async def _authorized_namespace(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    principal: Principal,
    namespace_id: int,
) -> tuple[Namespace, Registry, bool]:
    async with session_scope(sessionmaker) as session:
        loaded = await namespaces.load(session, principal, namespace_id)
        registry = await session.get(Registry, loaded.namespace.registry_id)
        assert registry is not None
        personal = await queries.is_personal_namespace(session, loaded.namespace.id)
        return loaded.namespace, registry, personal


async def delete_repository(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    repository_id: int,
) -> None:
    async with session_scope(sessionmaker) as session:
        namespace_id = await queries.namespace_id_of_repository(session, repository_id)
    if namespace_id is None:
        raise NotFound("Not found: no such repository")
    try:
        namespace, registry, _ = await _authorized_namespace(
            sessionmaker, settings, principal, namespace_id
        )
    except NotFound as exc:
        raise NotFound("Not found: no such repository") from exc
    await _ensure_may_delete(sessionmaker, settings, principal, namespace)
    async with session_scope(sessionmaker) as session:
        targets = await _repositories_of(session, namespace, repository_id)
    for target in targets:
        await remove_repository(
            sessionmaker, client_for(registry), namespace, target, principal.user_id
        )


async def _ensure_may_delete(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    principal: Principal,
    namespace: Namespace,
    *,
    personal: bool = False,
    whole_namespace: bool = False,
) -> None:
    async with session_scope(sessionmaker) as session:
        role = await queries.team_role(session, namespace.team_id, principal.user_id)
    facts = policy.NamespaceFacts(
        id=namespace.id, visibility=namespace.visibility, global_=namespace.global_, role=role
    )
    if whole_namespace:
        refusal = policy.namespace_delete_refusal(principal, facts, settings, personal=personal)
    else:
        refusal = policy.repository_delete_refusal(principal, facts, settings)
    if refusal is not None:
        raise Forbidden(f"Authorization fails: {refusal}")


async def delete_namespace(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    namespace_id: int,
) -> None:
    """Every repository is deleted in the registry first (see `remove_repository`), then the
    namespace. A registry failure stops it with a 502: the namespace stays, holding exactly the
    repositories the registry still serves; the same request again completes it."""
    namespace, _registry, personal = await _authorized_namespace(
        sessionmaker, settings, principal, namespace_id
    )
    await _ensure_may_delete(
        sessionmaker, settings, principal, namespace, personal=personal, whole_namespace=True
    )
    await remove_namespace(sessionmaker, settings, client_for, principal, namespace.id)


async def delete_team(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    team_id: int,
    *,
    new_team: str | None,
) -> None:
    """With `new_team`, the team's namespaces move there (`team.migration`); without it, they
    are deleted like `delete_namespace` does (registry first). Then the team goes."""
    async with session_scope(sessionmaker) as session:
        team, facts = await teams.load(session, principal, team_id, to_change=True)
        if not policy.can_delete_team(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not delete this team")
        namespace_ids = await queries.namespace_ids_of_team(session, team.id)
        if new_team is not None:
            target = await queries.visible_team_by_name(session, new_team)
            if target is None:
                raise NotFound(f"Not found: no team named {new_team!r} to receive the namespaces")
            if target.id == team.id:
                raise Invalid({"new_team": ["is the team being deleted"]})
            for namespace in await queries.namespaces_by_ids(session, namespace_ids):
                namespace.team_id = target.id
            activities.record(
                session,
                "team.migration",
                trackable_type="Team",
                trackable_id=target.id,
                owner_id=principal.user_id,
                parameters={"old_team": team.name, "team": target.name},
            )
            namespace_ids = []
    for namespace_id in namespace_ids:
        await remove_namespace(sessionmaker, settings, client_for, principal, namespace_id)
    async with session_scope(sessionmaker) as session:
        current = await session.get(Team, team_id)
        if current is not None:
            activities.record(
                session,
                "team.delete",
                trackable_type="Team",
                trackable_id=team_id,
                owner_id=principal.user_id,
                parameters={"team": current.name},
            )
            await session.delete(current)


async def remove_namespace(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    client_for: Callable[[Registry], RegistryClient],
    principal: Principal,
    namespace_id: int,
) -> None:
    """Every repository (registry first), then the namespace; no permission check here: the
    callers check the namespace's, or the team's (Portus deletes a team's namespaces with it;
    personal and global namespaces never belong to a visible team)."""
    async with session_scope(sessionmaker) as session:
        namespace = await session.get(Namespace, namespace_id)
        if namespace is None:
            return
        registry = await session.get(Registry, namespace.registry_id)
        assert registry is not None
        targets = await _repositories_of(session, namespace)
    client = client_for(registry)
    for target in targets:
        await remove_repository(sessionmaker, client, namespace, target, principal.user_id)
    async with session_scope(sessionmaker) as session:
        current = await session.get(Namespace, namespace_id)
        if current is not None:
            activities.record(
                session,
                "registry.delete",
                trackable_type="Registry",
                trackable_id=registry.id,
                owner_id=principal.user_id,
                parameters={"namespace_name": current.name, "registry_id": registry.id},
            )
            await session.delete(current)
