"""Sign-in with GitHub (`oauth.github`), with Portus's organization, team and domain
restrictions, against a local server answering as GitHub's OAuth app endpoints and REST API do
(tests/support/github_api.py): github.com cannot be reached from here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.oauth_apis import GithubUser, LocalGithub, oauth_error

CLIENT_ID, CLIENT_SECRET = "Iv1.portus", "github-client-secret"
OCTOCAT = GithubUser(
    login="octocat",
    id=583231,
    name="The Octocat",
    emails=[
        {"email": "octo@personal.example", "primary": False, "verified": True},
        {"email": "octocat@acme.example", "primary": True, "verified": True},
    ],
    orgs={"acme"},
    teams={("acme", "registry")},
)
OUTSIDER = GithubUser(
    login="outsider",
    id=1,
    name="Out Sider",
    emails=[{"email": "out@elsewhere.example", "primary": True, "verified": True}],
)
INTERN = GithubUser(
    login="intern",
    id=2,
    name="In Tern",
    emails=[{"email": "intern@acme.example", "primary": True, "verified": True}],
    orgs={"acme"},
)


@pytest.fixture(scope="module")
def github() -> Iterator[LocalGithub]:
    with LocalGithub(CLIENT_ID, CLIENT_SECRET, [OCTOCAT, OUTSIDER, INTERN]) as server:
        yield server


def github_settings(github: LocalGithub, **restrictions: str) -> dict[str, Any]:
    return {
        "github": {
            "enabled": True,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "server": github.url,
            **restrictions,
        }
    }


@pytest.fixture
async def portus(
    make_client: ClientFactory, github: LocalGithub
) -> AsyncIterator[httpx.AsyncClient]:
    oauth = github_settings(github, organization="acme", team="registry", domain="acme.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as client:
        yield client


async def sign_in(portus: httpx.AsyncClient, github: LocalGithub, login: str) -> httpx.Response:
    response = await github.sign_in(portus, "github", login)
    sent = github.last_authorize_query
    assert sent["code_challenge_method"] == "S256" and "nonce" not in sent
    return response


async def test_a_member_of_the_organization_and_team_signs_in(
    portus: httpx.AsyncClient, github: LocalGithub, session: AsyncSession
) -> None:
    response = await sign_in(portus, github, "octocat")
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = (await portus.get("/api/v1/me")).json()
    assert (me["username"], me["email"], me["provider"]) == (
        "octocat",
        "octocat@acme.example",
        "github",
    )
    user = (await session.execute(select(User).where(User.username == "octocat"))).scalar_one()
    assert user.uid == "583231"  # GitHub's user id: logins can be renamed


async def test_someone_outside_the_organization_is_refused(
    portus: httpx.AsyncClient, github: LocalGithub
) -> None:
    assert oauth_error(await sign_in(portus, github, "outsider")) == (
        "only members of the GitHub organization acme may sign in here"
    )


async def test_a_member_outside_the_team_is_refused(
    portus: httpx.AsyncClient, github: LocalGithub
) -> None:
    assert oauth_error(await sign_in(portus, github, "intern")) == (
        "only members of the GitHub team acme/registry may sign in here"
    )


async def test_an_address_outside_the_domain_is_refused(
    make_client: ClientFactory, github: LocalGithub
) -> None:
    oauth = github_settings(github, domain="other.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as portus:
        assert oauth_error(await sign_in(portus, github, "octocat")) == (
            "only e-mail addresses of other.example may sign in here"
        )


async def test_a_refused_code_and_github_down_are_clear_messages(
    portus: httpx.AsyncClient, github: LocalGithub, make_client: ClientFactory
) -> None:
    github.signed_in = "octocat"
    started = await portus.get("/api/v1/oauth/github/start")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    refused = await portus.get(
        "/api/v1/oauth/github/callback", params={"code": "not-a-code", "state": state}
    )
    assert oauth_error(refused) == (
        "the sign-in provider refused the code: The code passed is incorrect or expired."
    )

    down = LocalGithub(CLIENT_ID, CLIENT_SECRET, [])  # never started: nothing listens
    async with make_client(public_url="http://portus.test", oauth=github_settings(down)) as client:
        started = await client.get("/api/v1/oauth/github/start")
        state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
        response = await client.get(
            "/api/v1/oauth/github/callback", params={"code": "x", "state": state}
        )
    assert oauth_error(response) == "the sign-in provider cannot be reached (token)"


async def test_the_sign_in_page_offers_github(portus: httpx.AsyncClient) -> None:
    providers = (await portus.get("/api/v1/settings")).json()["oauth"]["providers"]
    assert providers == [{"name": "github", "label": "GitHub", "url": "/api/v1/oauth/github/start"}]


async def test_a_username_cannot_be_chosen_once_the_provider_is_disabled(
    make_client: ClientFactory, github: LocalGithub, session: AsyncSession
) -> None:
    await factories.create_user(session, username="octocat", email="octo@local.example")
    oauth = github_settings(github)
    async with make_client(public_url="http://portus.test", oauth=oauth) as portus:
        response = await sign_in(portus, github, "octocat")
        token = parse_qs(urlsplit(response.headers["location"]).query)["token"][0]
    async with make_client(public_url="http://portus.test") as portus:
        chosen = await portus.post(
            "/api/v1/oauth/signup", json={"token": token, "username": "octo-2"}
        )
    assert chosen.status_code == 404
    assert chosen.json()["message"] == "signing in with github is no longer offered here"
