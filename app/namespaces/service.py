"""Namespaces: personal ones, the registry's global one, and those created by an admin's push."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import Principal
from app.authz.queries import readable_namespaces, role_in_namespace
from app.core.config import Settings
from app.core.errors import Forbidden, Invalid, NotFound
from app.models import Namespace, Registry, Team, User, Visibility
from app.namespaces import repository
from app.teams import service as teams

NAME_PATTERN = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")  # used with fullmatch
NAME_MAX_LENGTH = 255


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX_LENGTH and NAME_PATTERN.fullmatch(name) is not None


def normalize_name(username: str) -> str:
    """Portus's rule: lowercase, strip non-alphanumerics at both ends, other characters become
    `_`, and runs of separators collapse to one `_`."""
    name = username.lower()
    name = re.sub(r"^[^a-z0-9]+|[^a-z0-9]+$", "", name)
    name = re.sub(r"[^a-z0-9._-]", "_", name)
    name = re.sub(r"[._-]{2,}", "_", name)
    return name


async def unique_namespace_name(session: AsyncSession, registry_id: int, base: str) -> str:
    taken = await repository.names_starting_with(session, registry_id, base)
    if base not in taken:
        return base
    suffix = 1
    while f"{base}{suffix}" in taken:
        suffix += 1
    return f"{base}{suffix}"


async def get_registry(session: AsyncSession) -> Registry | None:
    """Portus supports one registry: the first one."""
    return await repository.first_registry(session)


async def global_namespace(session: AsyncSession, registry_id: int) -> Namespace | None:
    return await repository.global_namespace(session, registry_id)


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
    session: AsyncSession,
    registry: Registry,
    name: str,
    actor_id: int | None,
    *,
    reason: str = "pushed by an administrator",
) -> Namespace:
    """A namespace that appeared in the registry before it existed here (an administrator's
    push, or the catalog sync found it): private, in the global team."""
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
        parameters={"team": None, "reason": reason},
    )
    return namespace


async def find_or_create_pushed_namespace(
    session: AsyncSession,
    registry: Registry,
    name: str,
    actor_id: int | None,
    *,
    reason: str = "pushed by an administrator",
) -> Namespace:
    """`namespace_by_name`, creating it (`create_pushed_namespace`) when missing. Safe against
    a concurrent creator: the loser of the unique constraint reads the winner's row."""
    namespace = await namespace_by_name(session, registry.id, name)
    if namespace is not None:
        return namespace
    try:
        async with session.begin_nested():
            return await create_pushed_namespace(session, registry, name, actor_id, reason=reason)
    except IntegrityError:
        found = await namespace_by_name(session, registry.id, name)
        if found is None:
            raise
        return found


async def namespace_by_name(
    session: AsyncSession, registry_id: int, name: str | None
) -> Namespace | None:
    if name is None:
        return await global_namespace(session, registry_id)
    # The global namespace is reached without a prefix only: `portus_global_namespace_1/app`
    # names a namespace of that name, not the global one.
    return await repository.by_name(session, registry_id, name)


# --- the REST API's operations -----------------------------------------------------------------
@dataclass(frozen=True)
class LoadedNamespace:
    namespace: Namespace
    team: Team
    facts: policy.NamespaceFacts


async def load(session: AsyncSession, principal: Principal, namespace_id: int) -> LoadedNamespace:
    """A namespace the caller may pull from, else 404 (existence stays hidden)."""
    found = await repository.with_team_and_role(session, namespace_id, principal.user_id)
    if found is None:
        raise NotFound("Not found: no such namespace")
    namespace, team, role = found
    facts = policy.NamespaceFacts(
        id=namespace.id, visibility=namespace.visibility, global_=namespace.global_, role=role
    )
    if not policy.can_pull(principal, facts):
        raise NotFound("Not found: no such namespace")
    return LoadedNamespace(namespace, team, facts)


def name_problems(name: str) -> list[str]:
    if len(name) > NAME_MAX_LENGTH:
        return [f"is longer than {NAME_MAX_LENGTH} characters"]
    if NAME_PATTERN.fullmatch(name) is None:
        return [
            "must be lowercase letters and digits, separated by single '.', '_' or '-' "
            "(e.g. team-a.tools)"
        ]
    return []


async def _check_name(session: AsyncSession, registry_id: int, name: str) -> None:
    problems = name_problems(name)
    if not problems and await namespace_by_name(session, registry_id, name) is not None:
        problems = ["has already been taken"]
    if problems:
        raise Invalid({"name": problems})


async def _visible_team(
    session: AsyncSession, principal: Principal, name: str
) -> tuple[Team, policy.TeamFacts]:
    team = await repository.unhidden_team_named(session, name)
    if team is None:
        raise NotFound("Not found: no such team")
    role = await repository.team_role(session, team.id, principal.user_id)
    return team, policy.TeamFacts(hidden=team.hidden, role=role)


async def create_namespace(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    name: str,
    team_name: str,
    description: str | None,
) -> LoadedNamespace:
    registry = await get_registry(session)
    if registry is None:
        raise Invalid({"registry": ["no registry is configured yet"]})
    team, team_facts = await _visible_team(session, principal, team_name)
    if not policy.can_create_namespace(principal, team_facts, settings):
        raise Forbidden("Authorization fails: you may not create namespaces for this team")
    await _check_name(session, registry.id, name)
    namespace = Namespace(
        name=name,
        registry_id=registry.id,
        team_id=team.id,
        visibility=Visibility.private,  # always private first
        description=description,
    )
    session.add(namespace)
    await session.flush()
    activities.record(
        session,
        "namespace.create",
        trackable_type="Namespace",
        trackable_id=namespace.id,
        owner_id=principal.user_id,
        parameters={"team": team.name},
    )
    await session.refresh(namespace)
    return await load(session, principal, namespace.id)


async def update_namespace(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    *,
    name: str | None,
    description: str | None,
    visibility: str | None,
    team_name: str | None,
) -> LoadedNamespace:
    loaded = await load(session, principal, namespace_id)
    namespace, facts = loaded.namespace, loaded.facts
    if visibility is not None and visibility != namespace.visibility.name:
        if not policy.can_change_visibility(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not change this namespace's visibility")
        if namespace.global_ and visibility == "private":
            raise Invalid({"visibility": ["the global namespace cannot be private"]})
        namespace.visibility = Visibility[visibility]
        _record(session, principal, namespace, "namespace.change_visibility", visibility=visibility)
    if description is not None and description != namespace.description:
        if not policy.can_manage_namespace(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not edit this namespace")
        old = namespace.description
        namespace.description = description
        _record(
            session,
            principal,
            namespace,
            "namespace.change_namespace_description",
            old=old,
            new=description,
        )
    if name is not None and name != namespace.name:
        if not policy.can_rename_namespace(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not rename this namespace")
        if await repository.repository_count(session, namespace.id):
            # The registry keeps its paths: a renamed namespace would lose its images.
            raise Invalid({"name": ["a namespace with repositories cannot be renamed"]})
        await _check_name(session, namespace.registry_id, name)
        _record(
            session,
            principal,
            namespace,
            "namespace.change_namespace_name",
            old=namespace.name,
            new=name,
        )
        namespace.name = name
    if team_name is not None and team_name != loaded.team.name:
        if not policy.can_change_namespace_team(principal, facts, settings):
            raise Forbidden("Authorization fails: you may not move this namespace to another team")
        team, _ = await _visible_team(session, principal, team_name)
        _record(
            session, principal, namespace, "namespace.change_team", old=loaded.team.id, new=team.id
        )
        namespace.team_id = team.id
    await session.flush()
    await session.refresh(namespace)
    return await load(session, principal, namespace.id)


def _record(
    session: AsyncSession, principal: Principal, namespace: Namespace, key: str, **params: object
) -> None:
    activities.record(
        session,
        key,
        trackable_type="Namespace",
        trackable_id=namespace.id,
        owner_id=principal.user_id,
        parameters=dict(params),
    )


NAMESPACE_SORT = repository.NAMESPACE_SORT


async def list_namespaces(
    session: AsyncSession,
    principal: Principal,
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> tuple[int, list[tuple[Namespace, Team]]]:
    return await repository.page_readable(
        session, readable_namespaces(principal), offset=offset, limit=limit, order=order
    )


# --- what the web UI shows of each namespace ---------------------------------------------------
async def display_names(session: AsyncSession, namespaces: Iterable[Namespace]) -> dict[int, str]:
    """What Portus shows for each namespace: its name, except the global namespace, which is
    shown as its registry's host (`registry.example.org:5000`) rather than its stored name
    (`portus_global_namespace_1`). One query, only when a global namespace is among them."""
    listed = list(namespaces)
    hosts = await repository.registry_hosts(
        session, {namespace.registry_id for namespace in listed if namespace.global_}
    )
    return {
        namespace.id: hosts.get(namespace.registry_id, namespace.name)
        if namespace.global_
        else namespace.name
        for namespace in listed
    }


@dataclass(frozen=True)
class NamespaceView:
    namespace: Namespace
    team: Team
    repositories_count: int
    webhooks_count: int | None  # None: the caller may not see the webhooks
    flags: policy.NamespaceFlags
    display_name: str


async def views(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    rows: Sequence[tuple[Namespace, Team]],
) -> list[NamespaceView]:
    """`rows` with the caller's rights and the counts: one query for the whole page."""
    found = await repository.stats(
        session, [namespace.id for namespace, _ in rows], role_in_namespace(principal)
    )
    names = await display_names(session, (namespace for namespace, _ in rows))
    result = []
    for namespace, team in rows:
        stats = found.get(namespace.id)
        if stats is None:  # deleted since the page was read (a GET reads without a transaction)
            continue
        facts = policy.NamespaceFacts(
            id=namespace.id,
            visibility=namespace.visibility,
            global_=namespace.global_,
            role=stats.role,
        )
        flags = policy.namespace_flags(principal, facts, settings, personal=stats.personal)
        result.append(
            NamespaceView(
                namespace=namespace,
                team=team,
                repositories_count=stats.repositories,
                webhooks_count=stats.webhooks if flags.permissions.webhooks else None,
                flags=flags,
                display_name=names[namespace.id],
            )
        )
    return result


async def view(
    session: AsyncSession, settings: Settings, principal: Principal, loaded: LoadedNamespace
) -> NamespaceView:
    found = await views(session, settings, principal, [(loaded.namespace, loaded.team)])
    if not found:
        raise NotFound("Not found: no such namespace")
    return found[0]


async def list_team_namespaces(
    session: AsyncSession,
    principal: Principal,
    team_id: int,
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> tuple[int, list[tuple[Namespace, Team]]]:
    """The namespaces of a team the caller may see (404 otherwise), as the namespace list
    shows them (the same visibility condition, narrowed to the team)."""
    await teams.load(session, principal, team_id)
    visible = readable_namespaces(principal) & (Namespace.team_id == team_id)
    return await repository.page_readable(session, visible, offset=offset, limit=limit, order=order)
