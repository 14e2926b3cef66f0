"""Sign-in with Bitbucket Cloud (`oauth.bitbucket`), with Portus's team (now: workspace) and
domain restrictions, against a local server answering as bitbucket.org's OAuth endpoints and
api.bitbucket.org's REST API 2.0 do (tests/support/oauth_apis.py): Bitbucket cannot be reached
from here."""

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
from tests.support.oauth_apis import BitbucketUser, LocalBitbucket, oauth_error

KEY, SECRET = "bitbucket-consumer-key", "bitbucket-consumer-secret"
ALICE = BitbucketUser(
    uuid="{4f1d0c3e-5b1a-4a9e-9f0e-2c3d4e5f6a7b}",
    nickname="alice",
    display_name="Alice Liddell",
    emails=[
        {"email": "alice@old.example", "is_primary": False, "is_confirmed": True},
        {"email": "alice@acme.example", "is_primary": True, "is_confirmed": True},
    ],
    workspaces={"acme", "side-project"},
)
BOB = BitbucketUser(
    uuid="{9a8b7c6d-0000-4000-8000-000000000001}",
    nickname="bob",
    display_name="Bob",
    emails=[{"email": "bob@acme.example", "is_primary": True, "is_confirmed": True}],
    workspaces={"acmex"},  # a near miss: the filter is exact
)
UNCONFIRMED = BitbucketUser(
    uuid="{9a8b7c6d-0000-4000-8000-000000000002}",
    nickname="carol",
    username="carol-b",
    display_name="Carol",
    emails=[{"email": "carol@acme.example", "is_primary": True, "is_confirmed": False}],
    workspaces={"acme"},
)


@pytest.fixture(scope="module")
def bitbucket() -> Iterator[LocalBitbucket]:
    with LocalBitbucket(KEY, SECRET, [ALICE, BOB, UNCONFIRMED]) as server:
        yield server


def bitbucket_settings(server: LocalBitbucket, team: str = "", domain: str = "") -> dict[str, Any]:
    return {
        "bitbucket": {
            "enabled": True,
            "key": KEY,
            "secret": SECRET,
            "domain": domain,
            "options": {"team": team},
            "server": server.url,
            "api": server.api,
        }
    }


@pytest.fixture
async def portus(
    make_client: ClientFactory, bitbucket: LocalBitbucket
) -> AsyncIterator[httpx.AsyncClient]:
    oauth = bitbucket_settings(bitbucket, team="acme", domain="acme.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as client:
        yield client


async def sign_in(
    portus: httpx.AsyncClient, bitbucket: LocalBitbucket, nickname: str
) -> httpx.Response:
    response = await bitbucket.sign_in(portus, "bitbucket", nickname)
    assert bitbucket.last_authorize_query["scope"] == "account email"
    return response


async def test_a_member_of_the_workspace_signs_in_as_bitbuckets_uuid(
    portus: httpx.AsyncClient, bitbucket: LocalBitbucket, session: AsyncSession
) -> None:
    response = await sign_in(portus, bitbucket, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = (await portus.get("/api/v1/me")).json()
    assert (me["username"], me["email"], me["provider"]) == (
        "alice",
        "alice@acme.example",
        "bitbucket",
    )
    user = (await session.execute(select(User).where(User.username == "alice"))).scalar_one()
    assert user.uid == ALICE.uuid

    portus.cookies.clear()
    again = await sign_in(portus, bitbucket, "alice")
    assert again.status_code == 303 and again.headers["location"] == "/"
    assert (await portus.get("/api/v1/me")).json()["id"] == me["id"]


async def test_someone_outside_the_workspace_is_refused(
    portus: httpx.AsyncClient, bitbucket: LocalBitbucket
) -> None:
    assert oauth_error(await sign_in(portus, bitbucket, "bob")) == (
        "only members of the Bitbucket workspace acme may sign in here"
    )


async def test_an_unconfirmed_address_does_not_pass_the_domain(
    portus: httpx.AsyncClient, bitbucket: LocalBitbucket
) -> None:
    assert oauth_error(await sign_in(portus, bitbucket, "carol")) == (
        "only e-mail addresses of acme.example may sign in here"
    )


async def test_without_restrictions_the_username_is_taken_when_bitbucket_shows_one(
    make_client: ClientFactory, bitbucket: LocalBitbucket
) -> None:
    async with make_client(
        public_url="http://portus.test", oauth=bitbucket_settings(bitbucket)
    ) as portus:
        response = await sign_in(portus, bitbucket, "carol")
        assert response.status_code == 303 and response.headers["location"] == "/"
        me = (await portus.get("/api/v1/me")).json()
    # Its address is unconfirmed: not kept.
    assert (me["username"], me["email"]) == ("carol-b", None)


async def test_a_refused_code_is_a_clear_message(
    portus: httpx.AsyncClient, bitbucket: LocalBitbucket
) -> None:
    bitbucket.signed_in = "alice"
    started = await portus.get("/api/v1/oauth/bitbucket/start")
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    refused = await portus.get(
        "/api/v1/oauth/bitbucket/callback", params={"code": "not-a-code", "state": state}
    )
    assert oauth_error(refused) == (
        "the sign-in provider refused the code: The code passed is incorrect or expired."
    )


async def test_the_sign_in_page_offers_bitbucket(portus: httpx.AsyncClient) -> None:
    providers = (await portus.get("/api/v1/settings")).json()["oauth"]["providers"]
    assert providers == [
        {"name": "bitbucket", "label": "Bitbucket", "url": "/api/v1/oauth/bitbucket/start"}
    ]
