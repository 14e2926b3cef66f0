"""Search hits carry what the result page shows (stars, counts, last change), and the totals of
each kind count every match, not only the hits returned."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.security import TokenDigester
from app.models import Repository, Role, Star, Tag, Team, TeamUser, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import token_headers
from tests.support.statements import counted_statements


async def test_hits_carry_stars_counts_and_updated_at(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    web = await factories.create_namespace(
        session, registry, name="web", visibility=Visibility.public
    )
    repository = Repository(name="webapp", namespace_id=web.id)
    session.add(repository)
    await session.flush()
    session.add_all(
        [
            Tag(name="v1", repository_id=repository.id, digest="sha256:1"),
            Tag(name="v2", repository_id=repository.id, digest="sha256:2"),
            Star(repository_id=repository.id, user_id=alice.id),
            Star(repository_id=repository.id, user_id=bob.id),
        ]
    )
    team = Team(name="webteam")
    session.add(team)
    await session.flush()
    session.add_all(
        [
            TeamUser(team_id=team.id, user_id=alice.id, role=Role.owner),
            TeamUser(team_id=team.id, user_id=bob.id, role=Role.viewer),
        ]
    )
    await session.flush()
    response = await client.get(
        "/api/v1/search", params={"q": "web"}, headers=await token_headers(session, digester, alice)
    )
    assert response.status_code == 200
    hits = {(h["kind"], h["name"]): h for h in response.json()}
    repo_hit = hits[("repository", "web/webapp")]
    assert (repo_hit["stars"], repo_hit["tags_count"]) == (2, 2)
    assert repo_hit["updated_at"] is not None
    assert repo_hit["members_count"] is None
    namespace_hit = hits[("namespace", "web")]
    assert namespace_hit["repositories_count"] == 1
    assert namespace_hit["stars"] is None
    team_hit = hits[("team", "webteam")]
    assert (team_hit["members_count"], team_hit["namespaces_count"]) == (2, 0)
    assert response.headers["X-Total-Repositories"] == "1"
    assert response.headers["X-Total-Namespaces"] == "1"
    assert response.headers["X-Total-Teams"] == "1"


async def test_totals_count_past_the_hits_and_respect_visibility(
    session: AsyncSession,
    connection: AsyncConnection,
    client: httpx.AsyncClient,
    digester: TokenDigester,
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    public = await factories.create_namespace(
        session, registry, name="pub", visibility=Visibility.public
    )
    hidden = await factories.create_namespace(session, registry, name="hid")
    for n in range(30):
        session.add(Repository(name=f"app{n:02}", namespace_id=public.id))
        session.add(Repository(name=f"app{n:02}", namespace_id=hidden.id))
    for n in range(27):
        session.add(Team(name=f"apps-{n}", description="team"))
    await session.flush()
    headers = await token_headers(session, digester, alice)
    with counted_statements(connection) as seen:
        response = await client.get("/api/v1/search", params={"q": "app"}, headers=headers)
    hits = response.json()
    assert len([h for h in hits if h["kind"] == "repository"]) == 25
    assert response.headers["X-Total-Repositories"] == "30"  # not the private namespace's
    assert response.headers["X-Total-Teams"] == "0"  # alice is in none of them
    assert response.headers["X-Total-Namespaces"] == "0"
    assert all(h["tags_count"] == 0 for h in hits)
    # 25 hits do not cost 25 queries
    assert len(seen) < 20


async def test_explore_counts_public_repositories(
    session: AsyncSession, make_client: ClientFactory
) -> None:
    registry = await factories.create_registry(session)
    public = await factories.create_namespace(
        session, registry, name="pub", visibility=Visibility.public
    )
    hidden = await factories.create_namespace(session, registry, name="hid")
    for n in range(28):
        session.add(Repository(name=f"img{n}", namespace_id=public.id))
    session.add(Repository(name="img-secret", namespace_id=hidden.id))
    await session.flush()
    async with make_client() as client:
        browsed = await client.get("/api/v1/explore", params={"q": ""})
        searched = await client.get("/api/v1/explore", params={"q": "img1"})
    assert len(browsed.json()) == 25
    assert browsed.headers["X-Total-Repositories"] == "28"
    assert browsed.headers["X-Total-Teams"] == "0"
    assert {h["name"] for h in searched.json()} == {f"pub/img{n}" for n in (1, *range(10, 20))}
    assert searched.headers["X-Total-Repositories"] == "11"
    assert searched.json()[0]["stars"] == 0


async def test_the_headers_are_documented(client: httpx.AsyncClient) -> None:
    document = (await client.get("/api/openapi.json")).json()
    for path in ("/v1/search", "/v1/explore"):
        headers = document["paths"][path]["get"]["responses"]["200"]["headers"]
        assert set(headers) == {"X-Total-Repositories", "X-Total-Namespaces", "X-Total-Teams"}


async def test_an_empty_query_finds_nothing(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    alice = await factories.create_user(session, username="alice")
    response = await client.get(
        "/api/v1/search",
        params={"q": ":tag"},
        headers=await token_headers(session, digester, alice),
    )
    assert response.json() == []
    assert response.headers["X-Total-Repositories"] == "0"
