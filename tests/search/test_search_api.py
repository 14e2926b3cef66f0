from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Registry, Repository, Role, Team, TeamUser, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import token_headers


async def _world(session: AsyncSession, digester: TokenDigester) -> dict[str, str]:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    public = await factories.create_namespace(
        session, registry, name="web", visibility=Visibility.public
    )
    private = await factories.create_namespace(
        session, registry, name="webstuff", members={alice.id: Role.viewer}
    )
    hidden = await factories.create_namespace(session, registry, name="secretweb")
    for namespace, name in ((public, "web"), (public, "webapp"), (private, "api"), (hidden, "web")):
        session.add(Repository(name=name, namespace_id=namespace.id))
    team = Team(name="web-team", hidden=False)
    session.add(team)
    await session.flush()
    session.add(TeamUser(team_id=team.id, user_id=alice.id, role=Role.viewer))
    await session.flush()
    return await token_headers(session, digester, alice)


async def test_search_is_ranked_and_scoped(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await _world(session, digester)
    hits = (await client.get("/api/v1/search?q=web:latest", headers=headers)).json()
    names = [(h["kind"], h["name"]) for h in hits]
    assert names[0] == ("repository", "web/web")  # exact match first
    assert ("repository", "secretweb/web") not in names  # not visible to alice
    assert ("namespace", "webstuff") in names
    assert ("team", "web-team") in names
    assert ("repository", "webstuff/api") in names  # matched by its namespace's name
    # LIKE wildcards are literal characters
    assert (await client.get("/api/v1/search?q=%25", headers=headers)).json() == []
    assert (await client.get("/api/v1/search?q=web")).status_code == 401


async def test_explore_for_anonymous(
    session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
) -> None:
    await _world(session, digester)
    async with make_client() as client:
        hits = (await client.get("/api/v1/explore?q=web")).json()
        assert {h["name"] for h in hits} == {"web/web", "web/webapp"}
    async with make_client(anonymous_browsing={"enabled": False}) as client:
        assert (await client.get("/api/v1/explore?q=web")).status_code == 405


async def test_search_by_full_name(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await _world(session, digester)
    hits = (await client.get("/api/v1/search?q=web/web", headers=headers)).json()
    repositories = [h["name"] for h in hits if h["kind"] == "repository"]
    assert repositories == ["web/web", "web/webapp"]  # exact full name first, then prefix
    hits = (await client.get("/api/v1/search?q=webstuff/a", headers=headers)).json()
    assert [h["name"] for h in hits if h["kind"] == "repository"] == ["webstuff/api"]
    # secretweb/web exists but alice may not see it
    assert (await client.get("/api/v1/search?q=secretweb/web", headers=headers)).json() == []


async def test_search_underscore_is_literal_in_ranking(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await _world(session, digester)
    registry = await session.scalar(select(Registry))
    assert registry is not None
    namespace = await factories.create_namespace(
        session, registry, name="zz", visibility=Visibility.public
    )
    for name in ("a_b", "axb-a_b"):
        session.add(Repository(name=name, namespace_id=namespace.id))
    await session.flush()
    hits = (await client.get("/api/v1/search?q=a_b", headers=headers)).json()
    # `axb-a_b` contains `a_b` but does not start with it: ranked after the prefix match
    assert [h["name"] for h in hits if h["kind"] == "repository"] == ["zz/a_b", "zz/axb-a_b"]


async def test_prefix_matches_come_first_and_fill_the_page(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    headers = await _world(session, digester)
    registry = await session.scalar(select(Registry))
    assert registry is not None
    namespace = await factories.create_namespace(
        session, registry, name="many", visibility=Visibility.public
    )
    # 40 names start with "tool", one contains it later: the page holds prefixes only
    session.add_all(Repository(name=f"tool{i:02d}", namespace_id=namespace.id) for i in range(40))
    session.add(Repository(name="a-tool", namespace_id=namespace.id))
    session.add(Repository(name="tool", namespace_id=namespace.id))
    await session.flush()
    hits = (await client.get("/api/v1/search?q=tool", headers=headers)).json()
    names = [h["name"] for h in hits if h["kind"] == "repository"]
    assert names[0] == "many/tool"  # exact first
    assert names[1:] == [f"many/tool{i:02d}" for i in range(24)]
    # with fewer prefixes than a page, matches anywhere fill it
    hits = (await client.get("/api/v1/search?q=tool3", headers=headers)).json()
    assert [h["name"] for h in hits if h["kind"] == "repository"] == [
        f"many/tool{i}" for i in range(30, 40)
    ]
    hits = (await client.get("/api/v1/search?q=-tool", headers=headers)).json()
    assert [h["name"] for h in hits if h["kind"] == "repository"] == ["many/a-tool"]


async def test_a_term_ending_in_the_last_code_point_is_searched(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    """The prefix range's upper bound is the term's last character plus one: U+10FFFF has
    none (it was a 500)."""
    headers = await _world(session, digester)
    response = await client.get("/api/v1/search", params={"q": "web\U0010ffff"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == []
