"""Teams and their members (viewer, contributor, owner); hidden teams are managed by the system."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import Principal
from app.authz.queries import role_in_team, visible_teams
from app.core.config import Settings
from app.core.errors import FeatureDisabled, Forbidden, Invalid, NotFound
from app.models import LdapCheck, Role, Team, TeamUser, User
from app.teams import repository


async def unique_team_name(session: AsyncSession, base: str) -> str:
    taken = await repository.names_starting_with(session, base)
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
    membership = await repository.membership(session, team_id, user_id)
    if membership is None:
        session.add(TeamUser(team_id=team_id, user_id=user_id, role=Role.owner))
    else:
        membership.role = Role.owner
    await session.flush()


async def remove_from_team(session: AsyncSession, team_id: int, user_id: int) -> None:
    membership = await repository.membership(session, team_id, user_id)
    if membership is not None:
        await session.delete(membership)
        await session.flush()


async def load(
    session: AsyncSession, principal: Principal, team_id: int, *, to_change: bool = False
) -> tuple[Team, policy.TeamFacts]:
    """A team the caller may see (admins: all visible ones; others: their own), else 404.
    `to_change`: a hidden team (personal, global) is a 403 to an administrator or a member,
    as Portus refused it by policy: the system manages those teams."""
    found = await repository.with_role(session, team_id, principal.user_id)
    if found is None:
        raise NotFound("Not found: no such team")
    team, role = found
    facts = policy.TeamFacts(hidden=team.hidden, role=role)
    if to_change and team.hidden and (principal.admin or role is not None):
        raise Forbidden(
            "Authorization fails: hidden teams (personal namespaces' and the global one) "
            "are managed by Portus itself"
        )
    if not policy.can_see_team(principal, facts):
        raise NotFound("Not found: no such team")
    return team, facts


async def _check_name(session: AsyncSession, name: str, current: Team | None = None) -> None:
    existing = await repository.by_name(session, name)
    if existing is not None and existing is not current:
        raise Invalid({"name": ["has already been taken"]})


async def create_team(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    name: str,
    description: str | None,
    owner_id: int | None,
) -> Team:
    if not policy.can_create_team(principal, settings):
        raise Forbidden("Authorization fails: only administrators create teams here")
    if owner_id is not None and not policy.can_choose_team_owner(principal):
        raise Forbidden("Authorization fails: only administrators choose a team's owner")
    owner = owner_id if owner_id is not None else principal.user_id
    if owner is None or await session.get(User, owner) is None:
        raise Invalid({"owner_id": ["no such user"]})
    await _check_name(session, name)
    team = Team(name=name, description=description, hidden=False)
    session.add(team)
    await session.flush()
    session.add(TeamUser(team_id=team.id, user_id=owner, role=Role.owner))
    activities.record(
        session,
        "team.create",
        trackable_type="Team",
        trackable_id=team.id,
        owner_id=principal.user_id,
        parameters={"team": name},
    )
    await session.flush()
    return team


async def update_team(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    team_id: int,
    *,
    name: str | None,
    description: str | None,
) -> Team:
    team, facts = await load(session, principal, team_id, to_change=True)
    if not policy.can_update_team(principal, facts, settings):
        raise Forbidden("Authorization fails: you may not edit this team")
    if name is not None and name != team.name:
        await _check_name(session, name, team)
        activities.record(
            session,
            "team.change_team_name",
            trackable_type="Team",
            trackable_id=team.id,
            owner_id=principal.user_id,
            parameters={"old": team.name, "new": name},
        )
        team.name = name
    if description is not None and description != team.description:
        activities.record(
            session,
            "team.change_team_description",
            trackable_type="Team",
            trackable_id=team.id,
            owner_id=principal.user_id,
            parameters={"old": team.description, "new": description},
        )
        team.description = description
    await session.flush()
    await session.refresh(team)
    return team


async def disable_ldap_check(
    session: AsyncSession, settings: Settings, principal: Principal, team_id: int
) -> Team:
    """Exclude the team from the group sync (Portus's `ldap_check`; beyond Portus, it also
    keeps an OpenID Connect groups claim away); idempotent."""
    ldap_sync = settings.ldap.enabled and settings.ldap.group_sync.enabled
    oidc_groups = (
        settings.oauth.openid_connect.enabled and settings.oauth.openid_connect.groups_claim
    )
    if not (ldap_sync or oidc_groups):
        raise FeatureDisabled(
            "group sync is disabled (ldap.enabled and ldap.group_sync, or "
            "oauth.openid_connect.groups_claim)"
        )
    team, facts = await load(session, principal, team_id, to_change=True)
    if not policy.can_exclude_from_ldap_sync(principal, facts):
        raise Forbidden("Authorization fails: only the team's owners exclude it from LDAP sync")
    if team.ldap_group_checked is not LdapCheck.disabled:
        team.ldap_group_checked = LdapCheck.disabled
        activities.record(
            session,
            "team.disable_ldap_check",
            trackable_type="Team",
            trackable_id=team.id,
            owner_id=principal.user_id,
            parameters={"team": team.name},
        )
        await session.flush()
        await session.refresh(team)
    return team


async def list_members(
    session: AsyncSession, principal: Principal, team_id: int
) -> list[tuple[TeamUser, User]]:
    await load(session, principal, team_id)
    return await repository.members(session, team_id)


async def add_member(
    session: AsyncSession, principal: Principal, team_id: int, *, username: str, role: Role
) -> tuple[TeamUser, User]:
    team, facts = await load(session, principal, team_id, to_change=True)
    if not policy.can_manage_members(principal, facts):
        raise Forbidden("Authorization fails: only the team's owners manage its members")
    user = await repository.user_named(session, username)
    if user is None:
        raise NotFound(f"Not found: no user named {username!r}")
    if any(m.user_id == user.id for m, _ in await repository.members(session, team_id)):
        raise Invalid({"user": ["is already a member of this team"]})
    member = TeamUser(team_id=team.id, user_id=user.id, role=Role.owner if user.admin else role)
    session.add(member)
    await session.flush()
    activities.record(
        session,
        "team.add_member",
        trackable_type="Team",
        trackable_id=team.id,
        owner_id=principal.user_id,
        recipient_type="User",
        recipient_id=user.id,
        parameters={"role": member.role.name, "team": team.name},
    )
    await session.refresh(member)
    return member, user


async def join_teams_of_groups(
    session: AsyncSession, user: User, groups: Collection[str], role: Role, source: str
) -> None:
    """An identity provider's groups (an OpenID Connect `groups` claim) as team memberships:
    the user joins each visible team of a group's name (administrators as owners), as the
    LDAP group sync does. Nobody is removed, and teams excluded from group sync are left
    alone."""
    if user.bot or not groups:
        return
    for team in await repository.syncable_teams_to_join(session, groups, user.id):
        member = TeamUser(team_id=team.id, user_id=user.id, role=Role.owner if user.admin else role)
        try:
            async with session.begin_nested():
                session.add(member)
        except IntegrityError:  # a sign-in of the same person at the same moment added it
            continue
        activities.record(
            session,
            "team.add_member",
            trackable_type="Team",
            trackable_id=team.id,
            owner_id=None,  # the system, from the provider's groups
            recipient_type="User",
            recipient_id=user.id,
            parameters={"role": member.role.name, "team": team.name, "groups": source},
        )
    await session.flush()


async def _member_for_change(
    session: AsyncSession, principal: Principal, team_id: int, member_id: int
) -> tuple[Team, TeamUser, User]:
    team, facts = await load(session, principal, team_id, to_change=True)
    if not policy.can_manage_members(principal, facts):
        raise Forbidden("Authorization fails: only the team's owners manage its members")
    await repository.lock_team(session, team_id)
    member = await repository.member(session, team_id, member_id)
    if member is None:
        raise NotFound("Not found: no such member")
    user = await session.get(User, member.user_id)
    assert user is not None
    return team, member, user


async def change_member_role(
    session: AsyncSession, principal: Principal, team_id: int, member_id: int, *, role: Role
) -> tuple[TeamUser, User]:
    team, member, user = await _member_for_change(session, principal, team_id, member_id)
    if member.role is Role.owner and role is not Role.owner:
        if user.admin:
            raise Invalid({"role": ["administrators are always owners: cannot demote"]})
        if await repository.owner_count(session, team_id) <= 1:
            raise Invalid({"role": ["cannot demote the only owner of the team"]})
    old = member.role
    member.role = role
    activities.record(
        session,
        "team.change_member_role",
        trackable_type="Team",
        trackable_id=team.id,
        owner_id=principal.user_id,
        recipient_type="User",
        recipient_id=user.id,
        parameters={"old_role": old.name, "new_role": role.name, "team": team.name},
    )
    await session.flush()
    await session.refresh(member)
    return member, user


async def remove_member(
    session: AsyncSession, principal: Principal, team_id: int, member_id: int
) -> None:
    team, member, user = await _member_for_change(session, principal, team_id, member_id)
    if member.role is Role.owner and await repository.owner_count(session, team_id) <= 1:
        raise Invalid({"member": ["cannot remove the only owner of the team"]})
    activities.record(
        session,
        "team.remove_member",
        trackable_type="Team",
        trackable_id=team.id,
        owner_id=principal.user_id,
        recipient_type="User",
        recipient_id=user.id,
        parameters={"role": member.role.name, "team": team.name},
    )
    await session.delete(member)
    await session.flush()


async def owns_a_team(session: AsyncSession, principal: Principal) -> bool:
    """Whether the caller owns a (visible) team: they may then add members to it."""
    if principal.user_id is None:
        return False
    return await repository.owns_a_visible_team(session, principal.user_id)


TEAM_SORT = repository.TEAM_SORT


async def list_teams(
    session: AsyncSession,
    principal: Principal,
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None = None,
) -> tuple[int, Sequence[Team]]:
    visible = visible_teams(principal)
    total = await repository.count_visible(session, visible)
    teams = await repository.page_visible(session, visible, offset=offset, limit=limit, order=order)
    return total, teams


# --- what the web UI shows of each team --------------------------------------------------------
@dataclass(frozen=True)
class TeamView:
    team: Team
    members_count: int
    namespaces_count: int
    flags: policy.TeamFlags


async def views(
    session: AsyncSession, settings: Settings, principal: Principal, teams: Sequence[Team]
) -> list[TeamView]:
    """`teams` with the caller's role and rights and the counts: one query for the page."""
    found = await repository.stats(session, [team.id for team in teams], role_in_team(principal))
    result = []
    for team in teams:
        stats = found.get(team.id)
        if stats is None:  # deleted since the page was read (a GET reads without a transaction)
            continue
        facts = policy.TeamFacts(hidden=team.hidden, role=stats.role)
        flags = policy.team_flags(principal, facts, settings)
        result.append(TeamView(team, stats.members, stats.namespaces, flags))
    return result


async def view(
    session: AsyncSession, settings: Settings, principal: Principal, team: Team
) -> TeamView:
    found = await views(session, settings, principal, [team])
    if not found:
        raise NotFound("Not found: no such team")
    return found[0]
