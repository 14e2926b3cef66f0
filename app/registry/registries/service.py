"""The registry (Portus supports one): creating it sets up the global namespace and every
existing user's personal namespace."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.authz import policy
from app.core.config import Settings
from app.core.errors import Invalid, NotFound
from app.models import Registry
from app.namespaces import service as namespaces
from app.registry.client import check_reachable
from app.registry.registries import repository as queries
from app.registry.registries.schemas import RegistryFields, RegistryUpdateFields
from app.users import service as users


async def list_registries(session: AsyncSession) -> Sequence[Registry]:
    return await queries.all_registries(session)


async def get_registry(session: AsyncSession, registry_id: int) -> tuple[Registry, bool]:
    """The registry, and whether its hostname may still change (`can_change_hostname`)."""
    registry = await session.get(Registry, registry_id)
    if registry is None:
        raise NotFound("Not found: no such registry")
    repositories = await queries.repository_count(session, registry.id)
    return registry, policy.can_change_registry_hostname(repositories=repositories)


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


async def update_registry(
    session: AsyncSession,
    http: httpx.AsyncClient,
    settings: Settings,
    registry_id: int,
    fields: RegistryUpdateFields,
    *,
    force: bool,
) -> Registry:
    registry = await session.get(Registry, registry_id)
    if registry is None:
        raise NotFound("Not found: no such registry")
    moved = (fields.hostname is not None and fields.hostname != registry.hostname) or (
        fields.use_ssl is not None and fields.use_ssl != registry.use_ssl
    )
    if moved:
        repositories = await queries.repository_count(session, registry.id)
        if not policy.can_change_registry_hostname(repositories=repositories):
            raise Invalid({"hostname": ["cannot change while the registry holds repositories"]})
        hostname = fields.hostname or registry.hostname
        use_ssl = registry.use_ssl if fields.use_ssl is None else fields.use_ssl
        if not force:
            scheme = "https" if use_ssl else "http"
            problem = await check_reachable(http, f"{scheme}://{hostname}", settings)
            if problem is not None:
                raise Invalid({"hostname": [problem]})
        registry.hostname, registry.use_ssl = hostname, use_ssl
    if fields.name is not None:
        registry.name = fields.name
    if fields.external_hostname is not None:
        registry.external_hostname = fields.external_hostname or None
    await session.flush()
    await session.refresh(registry)
    return registry


async def validate(
    session: AsyncSession,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    name: str | None,
    hostname: str,
    use_ssl: bool,
    only: Collection[str] | None = None,
) -> dict[str, list[str]]:
    """Portus's registry validation: `name` not taken, `hostname` answers like a registry;
    `only` (when given) the fields to check."""
    messages: dict[str, list[str]] = {}
    if (
        name is not None
        and (not only or "name" in only)
        and await queries.name_taken(session, name)
    ):
        messages["name"] = ["has already been taken"]
    if not only or "hostname" in only:
        scheme = "https" if use_ssl else "http"
        problem = await check_reachable(http, f"{scheme}://{hostname}", settings)
        if problem:
            messages["hostname"] = [problem]
    return messages
