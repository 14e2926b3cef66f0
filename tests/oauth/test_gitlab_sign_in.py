"""Sign-in with GitLab (`oauth.gitlab`, `server` for a self-managed one), with Portus's group
and domain restrictions, against a local server answering as GitLab's OAuth endpoints and REST
API do (tests/support/oauth_apis.py): gitlab.com cannot be reached from here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ClientFactory
from tests.support.oauth_apis import GitlabUser, LocalGitlab, oauth_error

CLIENT_ID, SECRET = "gitlab-app-id", "gitlab-secret"
MEMBER = GitlabUser("jdoe", 41, "Jane Doe", "jane@acme.example", groups={"acme/platform"})
STRANGER = GitlabUser("stranger", 42, "A Stranger", "stranger@acme.example")
# In the group, with an address of the domain that GitLab has not confirmed.
UNCONFIRMED = GitlabUser(
    "sneaky", 43, "Sneaky", "boss@acme.example", groups={"acme/platform"}, confirmed=False
)


@pytest.fixture(scope="module")
def gitlab() -> Iterator[LocalGitlab]:
    with LocalGitlab(CLIENT_ID, SECRET, [MEMBER, STRANGER, UNCONFIRMED]) as server:
        yield server


def gitlab_settings(gitlab: LocalGitlab, **restrictions: str) -> dict[str, Any]:
    return {
        "gitlab": {
            "enabled": True,
            "application_id": CLIENT_ID,
            "secret": SECRET,
            "server": gitlab.url,
            **restrictions,
        }
    }


@pytest.fixture
async def portus(
    make_client: ClientFactory, gitlab: LocalGitlab
) -> AsyncIterator[httpx.AsyncClient]:
    oauth = gitlab_settings(gitlab, group="acme/platform", domain="acme.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as client:
        yield client


async def test_a_member_of_the_group_signs_in(
    portus: httpx.AsyncClient, gitlab: LocalGitlab
) -> None:
    response = await gitlab.sign_in(portus, "gitlab", "jdoe")
    assert response.status_code == 303 and response.headers["location"] == "/"
    me = (await portus.get("/api/v1/me")).json()
    assert (me["username"], me["email"], me["provider"]) == ("jdoe", "jane@acme.example", "gitlab")


async def test_someone_outside_the_group_is_refused(
    portus: httpx.AsyncClient, gitlab: LocalGitlab
) -> None:
    assert oauth_error(await gitlab.sign_in(portus, "gitlab", "stranger")) == (
        "only members of the GitLab group acme/platform may sign in here"
    )


async def test_an_address_outside_the_domain_is_refused(
    make_client: ClientFactory, gitlab: LocalGitlab
) -> None:
    oauth = gitlab_settings(gitlab, domain="other.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as portus:
        assert oauth_error(await gitlab.sign_in(portus, "gitlab", "jdoe")) == (
            "only e-mail addresses of other.example may sign in here"
        )


async def test_an_unconfirmed_address_does_not_pass_the_domain(
    portus: httpx.AsyncClient, gitlab: LocalGitlab
) -> None:
    assert oauth_error(await gitlab.sign_in(portus, "gitlab", "sneaky")) == (
        "only e-mail addresses of acme.example may sign in here"
    )
