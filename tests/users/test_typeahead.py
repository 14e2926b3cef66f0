"""`GET /api/v1/users/typeahead`: usernames for adding team members, to those who may add them."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Role, Team, TeamUser, User
from tests.fixtures import factories
from tests.support.auth import admin_headers, token_headers

PATH = "/api/v1/users/typeahead"


async def _people(session: AsyncSession) -> dict[str, User]:
    people = {}
    for name in ("alice", "Alan", "albert", "bob", "al_x", "alpha"):
        people[name] = await factories.create_user(session, username=name)
    people["alpha"].enabled = False
    await session.flush()
    return people


async def _owner_of_a_team(session: AsyncSession, user: User, *, hidden: bool = False) -> None:
    team = Team(name=f"team-of-{user.username}", hidden=hidden)
    session.add(team)
    await session.flush()
    session.add(TeamUser(team_id=team.id, user_id=user.id, role=Role.owner))
    await session.flush()


async def test_prefix_any_case_enabled_only_in_order(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    people = await _people(session)
    await _owner_of_a_team(session, people["bob"])
    headers = await token_headers(session, digester, people["bob"])
    response = await client.get(PATH, params={"q": "AL"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == ["al_x", "Alan", "albert", "alice"]  # not the disabled alpha
    limited = await client.get(PATH, params={"q": "al", "limit": 2}, headers=headers)
    assert limited.json() == ["al_x", "Alan"]
    # `_` and `%` are characters, not patterns
    assert (await client.get(PATH, params={"q": "al_"}, headers=headers)).json() == ["al_x"]
    assert (await client.get(PATH, params={"q": "%"}, headers=headers)).json() == []


async def test_administrators_may(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    await _people(session)
    headers = await admin_headers(session, digester, "root")
    response = await client.get(PATH, params={"q": "b"}, headers=headers)
    assert response.json() == ["bob"]


@pytest.mark.parametrize("role", [None, Role.viewer, Role.contributor, "hidden-owner"])
async def test_others_are_refused(
    session: AsyncSession,
    client: httpx.AsyncClient,
    digester: TokenDigester,
    role: Role | str | None,
) -> None:
    people = await _people(session)
    bob = people["bob"]
    if role == "hidden-owner":  # a personal team's owner adds nobody
        await _owner_of_a_team(session, bob, hidden=True)
    elif isinstance(role, Role):
        team = Team(name="devs")
        session.add(team)
        await session.flush()
        session.add(TeamUser(team_id=team.id, user_id=bob.id, role=role))
        await session.flush()
    response = await client.get(
        PATH, params={"q": "a"}, headers=await token_headers(session, digester, bob)
    )
    assert response.status_code == 403
    assert response.json() == {
        "message": "Authorization fails: only team owners and administrators look up users"
    }
    assert (await client.get(PATH, params={"q": "a"})).status_code == 401


@pytest.mark.parametrize(
    ("params", "field", "status"),
    [
        ({}, "q", 400),  # missing
        ({"q": ""}, "q", 422),
        ({"q": "a", "limit": 0}, "limit", 422),
        ({"q": "a", "limit": 26}, "limit", 422),
    ],
)
async def test_bad_input_names_the_parameter(
    session: AsyncSession,
    client: httpx.AsyncClient,
    digester: TokenDigester,
    params: dict[str, object],
    field: str,
    status: int,
) -> None:
    headers = await admin_headers(session, digester, "root")
    response = await client.get(PATH, params=params, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == status
    assert field in response.json()["message"]
