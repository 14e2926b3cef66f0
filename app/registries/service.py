"""The registry (Portus supports one): creating it sets up the global namespace and every
existing user's personal namespace."""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import Invalid
from app.models import Registry
from app.namespaces import service as namespaces
from app.registries.client import check_reachable
from app.registries.schemas import RegistryFields
from app.users import repository as users


async def list_registries(session: AsyncSession) -> Sequence[Registry]:
    return (await session.scalars(select(Registry).order_by(Registry.id))).all()


async def create_registry(
    session: AsyncSession,
    http: httpx.AsyncClient,
    settings: Settings,
    fields: RegistryFields,
    *,
    force: bool,
) -> Registry:
    if await namespaces.get_registry(session) is not None:
        raise Invalid({"uniqueness": ["You can only create one registry"]})
    scheme = "https" if fields.use_ssl else "http"
    if not force:
        problem = await check_reachable(http, f"{scheme}://{fields.hostname}", settings)
        if problem is not None:
            raise Invalid({"hostname": [problem]})
    registry = Registry(
        name=fields.name,
        hostname=fields.hostname,
        use_ssl=fields.use_ssl,
        external_hostname=fields.external_hostname or None,
    )
    session.add(registry)
    await session.flush()
    await namespaces.create_global_namespace(session, registry, await users.admin_ids(session))
    for user in await users.non_bot_users_without_namespace(session):
        await namespaces.create_personal_namespace(session, registry, user)
    return registry
