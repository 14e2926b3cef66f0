from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.slapd import ADMINS, GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, Slapd


@pytest.fixture(scope="session")
def slapd() -> Iterator[Slapd]:
    """One real slapd for the LDAP tests (they only read the directory)."""
    with Slapd() as server:
        yield server


def ldap_config(slapd: Slapd, **overrides: Any) -> dict[str, Any]:
    """The `ldap` settings for the test directory: users under ou=people, administrators
    under ou=admins (outside `base`), groups under ou=groups, a service bind."""
    config: dict[str, Any] = {
        "enabled": True,
        "hostname": "127.0.0.1",
        "port": slapd.port,
        "timeout": 3,
        "base": PEOPLE,
        "admin_base": ADMINS,
        "group_base": GROUPS,
        "authentication": {"enabled": True, "bind_dn": SERVICE_DN, "password": SERVICE_PASSWORD},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


@pytest.fixture
async def ldap_client(
    make_client: ClientFactory, slapd: Slapd, session: AsyncSession
) -> AsyncIterator[httpx.AsyncClient]:
    """The API with LDAP on, a registry (so that new users get a personal namespace) and a
    local administrator `boss` (so that the first directory login is not the first user)."""
    await factories.create_registry(session)
    await factories.create_user(session, username="boss", admin=True)
    async with make_client(ldap=ldap_config(slapd)) as client:
        yield client
