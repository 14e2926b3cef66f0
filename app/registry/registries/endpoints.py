from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from app.auth.dependencies import AdminUser
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.params import ResourceId, Text
from app.core.state import State
from app.registry.registries import service
from app.registry.registries.schemas import (
    RegistryCreate,
    RegistryDetail,
    RegistryRead,
    RegistryUpdate,
    RegistryValidation,
)

router = APIRouter(prefix="/registries", tags=["registries"])


@router.get("", responses=error_responses(401, (403, "Not admin")))
async def list_registries(session: DbSession, _admin: AdminUser) -> list[RegistryRead]:
    return [RegistryRead.model_validate(r) for r in await service.list_registries(session)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        401, (403, "Not admin"), (422, "Unreachable, or a registry exists already")
    ),
)
async def create_registry(
    body: RegistryCreate, session: DbSession, state: State, _admin: AdminUser
) -> RegistryRead:
    """Register the registry; it must answer `GET /v2/` like a registry (unless `force`)."""
    registry = await service.create_registry(
        session, state.http, state.settings, body.registry, force=body.force
    )
    return RegistryRead.model_validate(registry)


@router.get(
    "/validate",
    responses=error_responses(401, (403, "Not admin"), 422),
)
async def validate_registry(
    hostname: Annotated[
        str, Query(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.\-]+(:\d{1,5})?$")
    ],
    session: DbSession,
    state: State,
    _admin: AdminUser,
    name: Annotated[Text | None, Query(min_length=1, max_length=255)] = None,
    use_ssl: bool = False,
    external_hostname: Annotated[
        Text | None, Query(max_length=255, description="accepted, as Portus did; not checked")
    ] = None,
    only: Annotated[
        list[Literal["name", "hostname"]] | None,
        Query(description="the fields to check (default: all)"),
    ] = None,
    only_rails: Annotated[
        list[Literal["name", "hostname"]] | None,
        Query(alias="only[]", description="`only` as Portus's clients spell it"),
    ] = None,
) -> RegistryValidation:
    """Whether `name` is free and `hostname` answers like a registry (reachability), as
    Portus's `{valid, messages}`."""
    messages = await service.validate(
        session,
        state.http,
        state.settings,
        name=name,
        hostname=hostname,
        use_ssl=use_ssl,
        only=[*(only or ()), *(only_rails or ())],
    )
    return RegistryValidation(valid=not messages, messages=messages)


@router.get(
    "/{registry_id}",
    summary="Show a registry",
    responses=error_responses(401, (403, "Not admin"), (404, "No such registry"), 422),
)
async def get_registry(
    registry_id: ResourceId, session: DbSession, _admin: AdminUser
) -> RegistryDetail:
    """The registry, and whether its hostname may still change (`can_change_hostname`: not once
    it holds repositories)."""
    registry, can_change_hostname = await service.get_registry(session, registry_id)
    return RegistryDetail(
        **RegistryRead.model_validate(registry).model_dump(),
        can_change_hostname=can_change_hostname,
    )


@router.put(
    "/{registry_id}",
    responses=error_responses(
        401,
        (403, "Not admin"),
        (404, "No such registry"),
        (422, "Unreachable, or the hostname is locked by repositories"),
    ),
)
async def update_registry(
    registry_id: ResourceId,
    body: RegistryUpdate,
    session: DbSession,
    state: State,
    _admin: AdminUser,
) -> RegistryRead:
    """The hostname is locked once the registry holds repositories."""
    registry = await service.update_registry(
        session, state.http, state.settings, registry_id, body.registry, force=body.force
    )
    return RegistryRead.model_validate(registry)
