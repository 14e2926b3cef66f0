from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import CurrentUser
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.pagination import Pagination, set_page_headers
from app.core.params import ResourceId
from app.core.people import avatar_url, shown_name
from app.core.state import SettingsDep
from app.models import Role, TeamUser, User
from app.teams import service
from app.teams.schemas import (
    MemberCreate,
    MemberRead,
    MemberUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
)

router = APIRouter(prefix="/teams", tags=["teams"])

ERRORS = error_responses(
    401, 403, 404, (422, "Invalid fields (last owner, admin demotion, taken name...)")
)


def _read(view: service.TeamView) -> TeamRead:
    team, flags = view.team, view.flags
    return TeamRead(
        id=team.id,
        name=team.name,
        description=team.description,
        hidden=team.hidden,
        ldap_group_checked=team.ldap_group_checked.name,
        checked_at=team.checked_at,
        created_at=team.created_at,
        updated_at=team.updated_at,
        role=None if flags.role is None else flags.role.name,
        updatable=flags.updatable,
        destroyable=flags.destroyable,
        members_count=view.members_count,
        namespaces_count=view.namespaces_count,
    )


def _member(settings: Settings, principal: Principal, member: TeamUser, user: User) -> MemberRead:
    return MemberRead(
        id=member.id,
        team_id=member.team_id,
        user_id=user.id,
        username=user.username,
        display_name=shown_name(settings, user.username, user.display_name),
        avatar_url=avatar_url(settings, user.email, bot=user.bot),
        admin=user.admin,
        current=user.id == principal.user_id,
        role=member.role.name,
        created_at=member.created_at,
        updated_at=member.updated_at,
    )


@router.get("", responses=ERRORS)
async def list_teams(
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[TeamRead]:
    """Administrators see every team, others their own; hidden teams are never listed. Each
    with the caller's role and rights, and its counts."""
    total, teams = await service.list_teams(
        session,
        principal,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.TEAM_SORT),
    )
    set_page_headers(request, response, pagination, total)
    return [_read(view) for view in await service.views(session, settings, principal, teams)]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_team(
    body: TeamCreate, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> TeamRead:
    team = await service.create_team(
        session,
        settings,
        principal,
        name=body.name,
        description=body.description,
        owner_id=body.owner_id,
    )
    return _read(await service.view(session, settings, principal, team))


@router.get("/{team_id}", responses=ERRORS)
async def get_team(
    team_id: ResourceId, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> TeamRead:
    team, _ = await service.load(session, principal, team_id)
    return _read(await service.view(session, settings, principal, team))


@router.put("/{team_id}", responses=ERRORS)
async def update_team(
    team_id: ResourceId,
    body: TeamUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> TeamRead:
    team = await service.update_team(
        session,
        settings,
        principal,
        team_id,
        name=body.team.name,
        description=body.team.description,
    )
    return _read(await service.view(session, settings, principal, team))


@router.post(
    "/{team_id}/ldap_check",
    responses={**ERRORS, **error_responses((405, "LDAP or its group sync is off"))},
)
async def disable_ldap_check(
    team_id: ResourceId, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> TeamRead:
    """Exclude the team from the LDAP group sync (owners and administrators): members of the
    directory group of the same name are no longer added to it."""
    team = await service.disable_ldap_check(session, settings, principal, team_id)
    return _read(await service.view(session, settings, principal, team))


@router.get("/{team_id}/members", responses=ERRORS)
async def list_team_members(
    team_id: ResourceId, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> list[MemberRead]:
    """With their shown names and avatars; `current` marks the caller."""
    members = await service.list_members(session, principal, team_id)
    return [_member(settings, principal, m, u) for m, u in members]


@router.post("/{team_id}/members", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def add_team_member(
    team_id: ResourceId,
    body: MemberCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> MemberRead:
    """Owners (and administrators) add members; administrators always join as owners."""
    member, user = await service.add_member(
        session, principal, team_id, username=body.user, role=Role[body.role]
    )
    return _member(settings, principal, member, user)


@router.put("/{team_id}/members/{member_id}", responses=ERRORS)
async def change_team_member(
    team_id: ResourceId,
    member_id: ResourceId,
    body: MemberUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> MemberRead:
    member, user = await service.change_member_role(
        session, principal, team_id, member_id, role=Role[body.role]
    )
    return _member(settings, principal, member, user)


@router.delete(
    "/{team_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS
)
async def remove_team_member(
    team_id: ResourceId, member_id: ResourceId, session: DbSession, principal: CurrentUser
) -> None:
    await service.remove_member(session, principal, team_id, member_id)
