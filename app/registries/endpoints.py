from __future__ import annotations

from fastapi import APIRouter, status

from app.auth.dependencies import AdminUser
from app.core.db import DbSession
from app.core.state import State
from app.registries import service
from app.registries.schemas import RegistryCreate, RegistryRead

router = APIRouter(prefix="/registries", tags=["registries"])


@router.get(
    "", responses={401: {"description": "Unauthenticated"}, 403: {"description": "Not admin"}}
)
async def list_registries(session: DbSession, _admin: AdminUser) -> list[RegistryRead]:
    return [RegistryRead.model_validate(r) for r in await service.list_registries(session)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        401: {"description": "Unauthenticated"},
        403: {"description": "Not admin"},
        422: {"description": "Unreachable, or a registry exists already"},
    },
)
async def create_registry(
    body: RegistryCreate, session: DbSession, state: State, _admin: AdminUser
) -> RegistryRead:
    """Register the registry; it must answer `GET /v2/` like a registry (unless `force`)."""
    registry = await service.create_registry(
        session, state.http, state.settings, body.registry, force=body.force
    )
    return RegistryRead.model_validate(registry)
