from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.dependencies import CurrentUser
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.pagination import Pagination, set_page_headers
from app.core.params import ResourceId, Text
from app.core.state import SettingsDep
from app.namespaces import service
from app.namespaces.schemas import (
    NamespaceCreate,
    NamespacePermissions,
    NamespaceRead,
    NamespaceUpdate,
    NameValidation,
    TeamRef,
)

router = APIRouter(prefix="/namespaces", tags=["namespaces"])
team_namespaces_router = APIRouter(prefix="/teams/{team_id}/namespaces", tags=["teams"])

ERRORS = error_responses(401, 403, 404, 422)


def _read(view: service.NamespaceView) -> NamespaceRead:
    namespace, team, flags = view.namespace, view.team, view.flags
    permissions = flags.permissions
    return NamespaceRead(
        id=namespace.id,
        name=namespace.name,
        display_name=view.display_name,
        description=namespace.description,
        visibility=namespace.visibility.name,
        global_=namespace.global_,
        team=TeamRef(id=team.id, name=team.name, hidden=team.hidden),
        created_at=namespace.created_at,
        updated_at=namespace.updated_at,
        repositories_count=view.repositories_count,
        webhooks_count=view.webhooks_count,
        permissions=NamespacePermissions(
            role=None if permissions.role is None else permissions.role.name,
            pull=permissions.pull,
            push=permissions.push,
            webhooks=permissions.webhooks,
            visibility=permissions.visibility,
        ),
        updatable=flags.updatable,
        destroyable=flags.destroyable,
    )


@router.get("", responses=ERRORS, response_model_by_alias=True)
async def list_namespaces(
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[NamespaceRead]:
    """Public and protected namespaces, and those of the caller's teams (admins: all), each
    with the caller's rights and its counts."""
    total, rows = await service.list_namespaces(
        session,
        principal,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.NAMESPACE_SORT),
    )
    set_page_headers(request, response, pagination, total)
    return [_read(view) for view in await service.views(session, settings, principal, rows)]


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses=ERRORS, response_model_by_alias=True
)
async def create_namespace(
    body: NamespaceCreate, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> NamespaceRead:
    """A private namespace of a team the caller may push for (`create_namespace`, push policy)."""
    loaded = await service.create_namespace(
        session,
        settings,
        principal,
        name=body.name,
        team_name=body.team,
        description=body.description,
    )
    return _read(await service.view(session, settings, principal, loaded))


@router.get("/validate", responses=ERRORS)
async def validate_namespace_name(
    name: Annotated[Text, Query(max_length=1000)], _principal: CurrentUser, session: DbSession
) -> NameValidation:
    problems = service.name_problems(name)
    registry = await service.get_registry(session)
    taken = (
        not problems
        and registry is not None
        and await service.namespace_by_name(session, registry.id, name) is not None
    )
    if taken:
        problems = ["has already been taken"]
    return NameValidation(valid=not problems, messages={"name": problems} if problems else {})


@router.get("/{namespace_id}", responses=ERRORS, response_model_by_alias=True)
async def get_namespace(
    namespace_id: ResourceId, session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> NamespaceRead:
    loaded = await service.load(session, principal, namespace_id)
    return _read(await service.view(session, settings, principal, loaded))


@router.put("/{namespace_id}", responses=ERRORS, response_model_by_alias=True)
async def update_namespace(
    namespace_id: ResourceId,
    body: NamespaceUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> NamespaceRead:
    """Name (only while it holds no repositories), description, team, and visibility
    (`private`, `protected`, `public`; the global namespace is never private)."""
    fields = body.namespace
    loaded = await service.update_namespace(
        session,
        settings,
        principal,
        namespace_id,
        name=fields.name,
        description=fields.description,
        visibility=fields.visibility,
        team_name=fields.team,
    )
    return _read(await service.view(session, settings, principal, loaded))


@team_namespaces_router.get(
    "", summary="List a team's namespaces", responses=ERRORS, response_model_by_alias=True
)
async def list_team_namespaces(
    team_id: ResourceId,
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[NamespaceRead]:
    """The namespaces of a team the caller may see (its members, administrators), paged and
    shown as in the namespace list."""
    total, rows = await service.list_team_namespaces(
        session,
        principal,
        team_id,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.NAMESPACE_SORT),
    )
    set_page_headers(request, response, pagination, total)
    return [_read(view) for view in await service.views(session, settings, principal, rows)]
