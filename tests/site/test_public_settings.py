"""`GET /api/v1/settings`: the switches the web UI needs, for anyone, and nothing secret."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.version import VERSION
from tests.conftest import ClientFactory
from tests.fixtures import factories


async def test_defaults_for_an_anonymous_visitor_of_a_new_installation(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/settings")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "version": VERSION,
        "signup": {"enabled": True},
        "first_user": {"users_exist": False, "admin": True, "create_admin": True},
        "ldap": {"enabled": False},
        "anonymous_browsing": True,
        "password_reset": False,
        "display_name": False,
        "gravatar": True,
        "delete": {"enabled": True, "contributors": False},
        "user_permission": {
            "change_visibility": True,
            "create_team": True,
            "manage_team": True,
            "create_namespace": True,
            "manage_namespace": True,
            "create_webhook": True,
            "manage_webhook": True,
            "push_images": "allow-teams",
        },
        "pagination": {"per_page": 10, "max_per_page": 1000, "before_after": 2},
        "oauth": {"local_login": True, "providers": []},
    }


async def test_once_somebody_has_an_account_there_is_no_create_admin(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice")
    first_user = (await client.get("/api/v1/settings")).json()["first_user"]
    assert first_user == {"users_exist": True, "admin": True, "create_admin": False}


async def test_the_configuration_is_reflected(make_client: ClientFactory) -> None:
    overrides = {
        "ldap": {"enabled": True, "hostname": "ldap.internal.example", "base": "dc=secret"},
        "delete": {"enabled": False, "contributors": True},
        "display_name": {"enabled": True},
        "gravatar": {"enabled": False},
        "anonymous_browsing": {"enabled": False},
        "first_user_admin": {"enabled": False},
        "pagination": {"per_page": 25, "before_after": 3},
        "user_permission": {
            "create_team": {"enabled": False},
            "manage_webhook": {"enabled": False},
            "push_images": {"policy": "admin-only"},
        },
        "email": {"smtp": {"enabled": True, "password": "smtp-password"}},
        "oauth": {
            "github": {"enabled": True, "client_id": "github-client-id", "client_secret": "s"}
        },
    }
    async with make_client(**overrides) as client:
        response = await client.get("/api/v1/settings")
    body = response.json()
    # LDAP turns sign-up and password resets off, as the endpoints themselves do.
    assert body["signup"] == {"enabled": False}
    assert body["ldap"] == {"enabled": True}
    assert body["password_reset"] is False
    assert body["delete"] == {"enabled": False, "contributors": True}
    assert body["display_name"] is True
    assert body["gravatar"] is False
    assert body["anonymous_browsing"] is False
    assert body["first_user"] == {"users_exist": False, "admin": False, "create_admin": False}
    assert body["pagination"]["per_page"] == 25
    assert body["pagination"]["before_after"] == 3
    assert body["user_permission"]["create_team"] is False
    assert body["user_permission"]["manage_webhook"] is False
    assert body["user_permission"]["push_images"] == "admin-only"
    # A button per enabled provider, naming nothing of its configuration.
    assert body["oauth"]["providers"] == [
        {"name": "github", "label": "GitHub", "url": "/api/v1/oauth/github/start"}
    ]
    # Nothing secret or internal.
    for secret in ("ldap.internal.example", "dc=secret", "smtp-password", "github-client-id"):
        assert secret not in response.text


async def test_signup_off(make_client: ClientFactory) -> None:
    async with make_client(signup={"enabled": False}) as client:
        body = (await client.get("/api/v1/settings")).json()
    assert body["signup"] == {"enabled": False}


async def test_password_reset_with_mail(make_client: ClientFactory) -> None:
    async with make_client(email={"smtp": {"enabled": True}}) as client:
        body = (await client.get("/api/v1/settings")).json()
    assert body["password_reset"] is True


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/v1/settings"]["get"]
    assert operation["summary"] == "The installation's public settings"
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PublicSettings"}
