from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import Public
from app.core.db import DbSession
from app.core.state import SettingsDep
from app.site import service
from app.site.schemas import PublicSettings

router = APIRouter(tags=["settings"])


@router.get(
    "/settings",
    dependencies=[Public],
    summary="The installation's public settings",
)
async def get_public_settings(session: DbSession, settings: SettingsDep) -> PublicSettings:
    """For anyone, signed in or not: what the web UI offers (sign-up, "Create admin" for the
    first user, LDAP sign-in, deleting, what users may do) and the lists' page sizes."""
    return await service.public_settings(session, settings)
