"""LDAP and a sign-in provider together: a provider's person cannot take the name of a
directory user (whose LDAP login would then land in that person's account), neither on their
first sign-in nor when choosing a username; an account made by a provider under a name the
directory gained later is refused to the directory user. The provider is a local server
answering as GitHub does (tests/support/oauth_apis.py)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import User
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.ldap.conftest import ldap_config
from tests.support.oauth_apis import GithubUser, LocalGithub
from tests.support.slapd import USERS, Slapd

CLIENT_ID, SECRET = "Iv1.ldap-and-github", "github-secret"
# Someone who renamed their GitHub login to a directory user's name.
IMPOSTOR = GithubUser(
    login="alice",
    id=9001,
    name="Not Alice",
    emails=[{"email": "impostor@elsewhere.example", "primary": True, "verified": True}],
)


@pytest.fixture(scope="module")
def github() -> Iterator[LocalGithub]:
    with LocalGithub(CLIENT_ID, SECRET, [IMPOSTOR]) as server:
        yield server


def oauth(github: LocalGithub) -> dict[str, object]:
    return {
        "github": {
            "enabled": True,
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "server": github.url,
        }
    }


async def test_a_directory_users_name_is_taken_for_a_provider_sign_in(
    make_client: ClientFactory, github: LocalGithub, slapd: Slapd, session: AsyncSession
) -> None:
    await factories.create_user(session, username="boss", admin=True)
    async with make_client(
        public_url="http://portus.test", ldap=ldap_config(slapd), oauth=oauth(github)
    ) as portus:
        response = await github.sign_in(portus, "github", "alice")
        location = urlsplit(response.headers["location"])
        assert location.path == "/oauth/username"  # asked for another name
        token = parse_qs(location.query)["token"][0]
        chosen = await portus.post("/api/v1/oauth/signup", json={"token": token, "username": "bob"})
        assert chosen.status_code == 422, chosen.text
        assert chosen.json()["message"]["username"] == [
            "exists in the LDAP directory: that user logs in with the directory password"
        ]
        created = await portus.post(
            "/api/v1/oauth/signup", json={"token": token, "username": "not-alice"}
        )
        assert created.status_code == 201, created.text

        # alice's own LDAP login makes her own account.
        portus.cookies.clear()
        login = await portus.post(
            "/api/v1/session", json={"username": "alice", "password": USERS["alice"][0]}
        )
        assert login.status_code == 200, login.text
    accounts = {
        user.username: user.provider
        for user in await session.scalars(
            select(User).where(User.username.in_(["alice", "not-alice"]))
        )
    }
    assert accounts == {"alice": None, "not-alice": "github"}


async def test_an_account_of_a_provider_is_refused_to_the_directory_user_of_its_name(
    make_client: ClientFactory, slapd: Slapd, session: AsyncSession
) -> None:
    """The provider's person came first, before LDAP was turned on."""
    await factories.create_user(session, username="boss", admin=True)
    await factories.create_user(
        session, username="carol", provider="github", uid="77", password=None
    )
    async with make_client(ldap=ldap_config(slapd)) as portus:
        login = await portus.post(
            "/api/v1/session", json={"username": "carol", "password": USERS["carol"][0]}
        )
    assert login.status_code == 401, login.text
    assert "signs in with github" in login.text
