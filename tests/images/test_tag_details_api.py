"""`GET /api/v1/tags/{id}/details` without a registry: who may ask, bad input, and a registry that
does not answer (a 502 naming the problem, never a 500). The real registry's answers are read in
tests/e2e/test_image_details.py."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Repository, Role, Tag
from tests.fixtures import factories
from tests.support.auth import token_headers
from tests.support.tools import free_port


async def _tag(
    session: AsyncSession, digester: TokenDigester, hostname: str
) -> tuple[int, dict[str, str], dict[str, str]]:
    """A tag in a private namespace; headers of a member and of a stranger."""
    registry = await factories.create_registry(session, hostname=hostname)
    member = await factories.create_user(session, username="member")
    stranger = await factories.create_user(session, username="stranger")
    namespace = await factories.create_namespace(
        session, registry, name="team", members={member.id: Role.viewer}
    )
    repository = Repository(name="app", namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    tag = Tag(name="v1", repository_id=repository.id, digest="sha256:" + "a" * 64)
    session.add(tag)
    await session.flush()
    return (
        tag.id,
        await token_headers(session, digester, member),
        await token_headers(session, digester, stranger),
    )


async def test_an_unreachable_registry_is_a_502(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    tag_id, member, _ = await _tag(session, digester, f"127.0.0.1:{free_port()}")
    response = await client.get(f"/api/v1/tags/{tag_id}/details", headers=member)
    assert response.status_code == 502
    message = response.json()["message"]
    assert message.startswith("the registry failed: registry unreachable")


async def test_pull_permission_is_required(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    tag_id, _, stranger = await _tag(session, digester, f"127.0.0.1:{free_port()}")
    response = await client.get(f"/api/v1/tags/{tag_id}/details", headers=stranger)
    assert response.status_code == 404  # the registry is not even asked
    assert response.json() == {"message": "Not found: no such tag"}
    assert (await client.get(f"/api/v1/tags/{tag_id}/details")).status_code == 401


async def test_bad_and_unknown_ids(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    _, member, _ = await _tag(session, digester, f"127.0.0.1:{free_port()}")
    bad = await client.get("/api/v1/tags/latest/details", headers=member)
    assert bad.status_code == 400  # not an integer: a wrongly typed parameter
    assert "tag_id" in bad.json()["message"]
    missing = await client.get("/api/v1/tags/99999999/details", headers=member)
    assert missing.status_code == 404


async def test_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/v1/tags/{tag_id}/details"]["get"]
    assert operation["summary"] == "Image details of a tag, from the registry"
    assert {"401", "404", "422", "502"} <= set(operation["responses"])
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/TagDetails"}
