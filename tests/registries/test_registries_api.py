from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Repository, TeamUser, User, Visibility
from tests.fixtures import factories
from tests.support.auth import admin_headers, token_headers
from tests.support.tools import free_port


def registry_body(hostname: str, *, force: bool = False) -> dict[str, object]:
    return {"registry": {"name": "main", "hostname": hostname, "use_ssl": False}, "force": force}


async def test_unreachable_registry_is_refused(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    response = await client.post(
        "/api/v1/registries", json=registry_body(f"127.0.0.1:{free_port()}"), headers=headers
    )
    assert response.status_code == 422
    assert "not reachable" in response.json()["message"]["hostname"][0]


async def test_forced_creation_sets_up_namespaces(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    alice = await factories.create_user(session, username="alice")
    bot = await factories.create_user(session, username="bot1", bot=True)
    response = await client.post(
        "/api/v1/registries", json=registry_body("registry.local:5000", force=True), headers=headers
    )
    assert response.status_code == 201
    assert response.json()["hostname"] == "registry.local:5000"
    global_ns = await session.scalar(select(Namespace).where(Namespace.global_))
    assert global_ns is not None and global_ns.visibility is Visibility.public
    root = await session.scalar(select(User).where(User.username == "root"))
    assert root is not None
    owners = set(
        await session.scalars(select(TeamUser.user_id).where(TeamUser.team_id == global_ns.team_id))
    )
    assert owners == {root.id}
    await session.refresh(alice)
    await session.refresh(bot)
    assert alice.namespace_id is not None and bot.namespace_id is None
    listed = await client.get("/api/v1/registries", headers=headers)
    assert [r["name"] for r in listed.json()] == ["main"]
    second = await client.post(
        "/api/v1/registries", json=registry_body("other:5000", force=True), headers=headers
    )
    assert second.status_code == 422
    assert second.json()["message"] == {"uniqueness": ["You can only create one registry"]}


async def test_hostname_is_validated(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    response = await client.post(
        "/api/v1/registries", json=registry_body("http://x/y", force=True), headers=headers
    )
    assert response.status_code == 422
    assert "registry.hostname" in response.json()["message"]


async def test_plain_users_cannot_see_registries(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    alice = await factories.create_user(session, username="alice")
    headers = await token_headers(session, digester, alice)
    assert (await client.get("/api/v1/registries", headers=headers)).status_code == 403


async def test_update_and_hostname_lock(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    registry = await factories.create_registry(session)
    renamed = await client.put(
        f"/api/v1/registries/{registry.id}",
        json={"registry": {"name": "renamed", "external_hostname": "registry.example.org"}},
        headers=headers,
    )
    assert renamed.status_code == 200
    assert renamed.json()["external_hostname"] == "registry.example.org"
    unreachable = await client.put(
        f"/api/v1/registries/{registry.id}",
        json={"registry": {"hostname": f"127.0.0.1:{free_port()}"}},
        headers=headers,
    )
    assert unreachable.status_code == 422
    # with a repository, the hostname is locked (tokens and events name the registry by it)
    namespace = await factories.create_namespace(session, registry, name="team")
    session.add(Repository(name="app", namespace_id=namespace.id))
    await session.flush()
    locked = await client.put(
        f"/api/v1/registries/{registry.id}",
        json={"registry": {"hostname": "other:5000"}, "force": True},
        headers=headers,
    )
    assert locked.status_code == 422
    assert "holds repositories" in locked.json()["message"]["hostname"][0]
    missing = await client.put(
        "/api/v1/registries/999999", json={"registry": {"name": "x"}}, headers=headers
    )
    assert missing.status_code == 404


async def test_validate(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    response = await client.get(
        f"/api/v1/registries/validate?hostname=127.0.0.1:{free_port()}", headers=headers
    )
    assert response.json()["valid"] is False
    assert "not reachable" in response.json()["messages"]["hostname"][0]


async def test_show_says_whether_the_hostname_may_change(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await admin_headers(session, digester, "root")
    registry = await factories.create_registry(session)
    shown = await client.get(f"/api/v1/registries/{registry.id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert shown.json()["hostname"] == registry.hostname
    assert shown.json()["can_change_hostname"] is True
    namespace = await factories.create_namespace(session, registry, name="team")
    session.add(Repository(name="app", namespace_id=namespace.id))
    await session.flush()
    shown = await client.get(f"/api/v1/registries/{registry.id}", headers=headers)
    assert shown.json()["can_change_hostname"] is False
    missing = await client.get("/api/v1/registries/999999", headers=headers)
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found: no such registry"}
    bad = await client.get("/api/v1/registries/abc", headers=headers)
    assert bad.status_code == 400  # not an integer
    alice = await factories.create_user(session, username="alice")
    refused = await client.get(
        f"/api/v1/registries/{registry.id}", headers=await token_headers(session, digester, alice)
    )
    assert refused.status_code == 403
