from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Repository, Role, Tag, Visibility
from tests.fixtures import factories


async def add_repository(session: AsyncSession, namespace: Namespace, name: str, tags: int) -> int:
    repository = Repository(name=name, namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    for n in range(tags):
        session.add(Tag(name=f"v{n}", repository_id=repository.id, digest=f"sha256:{n}"))
    await session.flush()
    return repository.id


async def test_lists_only_what_the_caller_may_pull(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    admin = await factories.create_user(session, username="root", admin=True)
    private = await factories.create_namespace(
        session, registry, name="secret", members={bob.id: Role.viewer}
    )
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    secret_id = await add_repository(session, private, "app", 2)
    await add_repository(session, public, "web", 3)

    def headers(user: str, token: str) -> dict[str, str]:
        return {"Portus-Auth": f"{user}:{token}"}

    alice_h = headers("alice", await factories.create_token(session, digester, alice))
    bob_h = headers("bob", await factories.create_token(session, digester, bob))
    admin_h = headers("root", await factories.create_token(session, digester, admin))

    seen_by_alice = (await client.get("/api/v1/repositories", headers=alice_h)).json()
    assert [(r["full_name"], r["tags_count"]) for r in seen_by_alice] == [("open/web", 3)]
    seen_by_bob = (await client.get("/api/v1/repositories", headers=bob_h)).json()
    assert {r["full_name"] for r in seen_by_bob} == {"secret/app", "open/web"}
    all_repos = await client.get("/api/v1/repositories?all=true", headers=admin_h)
    assert all_repos.headers["X-Total"] == "2"

    tags = await client.get(f"/api/v1/repositories/{secret_id}/tags", headers=bob_h)
    assert sorted(t["name"] for t in tags.json()) == ["v0", "v1"]
    hidden = await client.get(f"/api/v1/repositories/{secret_id}/tags", headers=alice_h)
    assert hidden.status_code == 404
    assert (await client.get("/api/v1/repositories")).status_code == 401
