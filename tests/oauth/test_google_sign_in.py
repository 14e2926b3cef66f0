"""Sign-in with Google (`oauth.google_oauth2`), as OpenID Connect, with Portus's `domain` and
`options.hd` restrictions, against a local server answering as Google's OpenID Connect endpoints
do (discovery, JWKS, RS256 ID tokens with `email_verified` and `hd`;
tests/support/oauth_apis.py): accounts.google.com cannot be reached from here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import HTMLResponse, JSONResponse

from app.core.config import Settings
from app.models import User
from tests.conftest import ClientFactory
from tests.support.oauth_apis import GoogleUser, LocalGoogle, oauth_error

CLIENT_ID = "1234-portus.apps.googleusercontent.com"
SECRET = "GOCSPX-google-secret"
WORKER = GoogleUser(sub="108234", email="ada@acme.example", name="Ada L", hd="acme.example")
# A consumer account whose address is in the company's domain, but not of its Workspace.
LOOKALIKE = GoogleUser(sub="108235", email="eve@acme.example", name="Eve")
UNVERIFIED = GoogleUser(
    sub="108236", email="mallory@acme.example", name="Mallory", email_verified=False
)


@pytest.fixture(scope="module")
def google() -> Iterator[LocalGoogle]:
    with LocalGoogle(CLIENT_ID, SECRET, [WORKER, LOOKALIKE, UNVERIFIED]) as server:
        yield server


def google_settings(server: LocalGoogle, hd: str = "", domain: str = "") -> dict[str, Any]:
    return {
        "google_oauth2": {
            "enabled": True,
            "id": CLIENT_ID,
            "secret": SECRET,
            "domain": domain,
            "options": {"hd": hd},
            "issuer": server.url,
        }
    }


@pytest.fixture
async def portus(
    make_client: ClientFactory, google: LocalGoogle
) -> AsyncIterator[httpx.AsyncClient]:
    oauth = google_settings(google, hd="acme.example")
    async with make_client(public_url="http://portus.test", oauth=oauth) as client:
        yield client


async def test_a_workspace_account_signs_in_with_a_checked_id_token(
    portus: httpx.AsyncClient, google: LocalGoogle, session: AsyncSession
) -> None:
    response = await google.sign_in(portus, "google_oauth2", WORKER.sub)
    assert response.status_code == 303 and response.headers["location"] == "/"
    sent = google.last_authorize_query
    assert sent["hd"] == "acme.example"  # Google's chooser shows only that domain's accounts
    assert sent["scope"] == "openid email profile" and sent["code_challenge_method"] == "S256"
    assert sent["nonce"]
    me = (await portus.get("/api/v1/me")).json()
    # Google has no username: the address's local part is suggested.
    assert (me["username"], me["email"], me["provider"]) == (
        "ada",
        "ada@acme.example",
        "google_oauth2",
    )
    user = (await session.execute(select(User).where(User.username == "ada"))).scalar_one()
    assert user.uid == WORKER.sub


async def test_hd_is_checked_in_the_id_token_not_only_asked_for(
    portus: httpx.AsyncClient, google: LocalGoogle
) -> None:
    # The local server, like a person editing the URL, ignores the hd hint.
    assert oauth_error(await google.sign_in(portus, "google_oauth2", LOOKALIKE.sub)) == (
        "only accounts of the Google Workspace domain acme.example may sign in here"
    )


async def test_an_unverified_address_is_neither_kept_nor_passes_the_domain(
    make_client: ClientFactory, google: LocalGoogle
) -> None:
    async with make_client(
        public_url="http://portus.test", oauth=google_settings(google, domain="acme.example")
    ) as portus:
        assert oauth_error(await google.sign_in(portus, "google_oauth2", UNVERIFIED.sub)) == (
            "only e-mail addresses of acme.example may sign in here"
        )
        assert (await google.sign_in(portus, "google_oauth2", LOOKALIKE.sub)).headers[
            "location"
        ] == "/"
    async with make_client(
        public_url="http://portus.test", oauth=google_settings(google)
    ) as portus:
        assert (await google.sign_in(portus, "google_oauth2", UNVERIFIED.sub)).headers[
            "location"
        ] == "/"
        assert (await portus.get("/api/v1/me")).json()["email"] is None


async def test_the_sign_in_page_offers_google(portus: httpx.AsyncClient) -> None:
    providers = (await portus.get("/api/v1/settings")).json()["oauth"]["providers"]
    assert providers == [
        {"name": "google_oauth2", "label": "Google", "url": "/api/v1/oauth/google_oauth2/start"}
    ]


@pytest.mark.parametrize(
    ("section", "given", "missing"),
    [
        ("google_oauth2", {"id": "x"}, "secret"),
        ("bitbucket", {}, "key, secret"),
        ("github", {"client_id": "x"}, "client_secret"),
        ("gitlab", {"secret": "x"}, "application_id"),
    ],
)
def test_an_enabled_provider_needs_its_client(
    section: str, given: dict[str, str], missing: str
) -> None:
    with pytest.raises(ValueError, match=rf"oauth\.{section} needs {missing} when enabled"):
        Settings(oauth={section: {"enabled": True, **given}})


async def test_a_rotated_signing_key_is_fetched_again(
    portus: httpx.AsyncClient, google: LocalGoogle
) -> None:
    """The key set is cached; a token signed with a key it does not have makes one fresh
    fetch, so sign-ins go on working when Google rotates its keys."""
    assert (await google.sign_in(portus, "google_oauth2", WORKER.sub)).headers["location"] == "/"
    google.rotate_key()
    portus.cookies.clear()
    signed_in = await google.sign_in(portus, "google_oauth2", WORKER.sub)
    assert signed_in.headers["location"] == "/", signed_in.headers["location"]


async def test_an_issuer_written_with_a_trailing_slash_signs_in(
    make_client: ClientFactory,
) -> None:
    """Auth0 writes its issuer `https://tenant.auth0.com/`: ID tokens carry it as written."""
    with LocalGoogle(CLIENT_ID, SECRET, [WORKER]) as slashed:
        slashed.issuer_suffix = "/"
        settings = google_settings(slashed)
        settings["google_oauth2"]["issuer"] = slashed.url + "/"
        async with make_client(public_url="http://portus.test", oauth=settings) as portus:
            signed_in = await slashed.sign_in(portus, "google_oauth2", WORKER.sub)
            assert signed_in.headers["location"] == "/", signed_in.headers["location"]


async def test_a_provider_answering_nonsense_ends_on_the_sign_in_page(
    make_client: ClientFactory,
) -> None:
    """Not a 500: a token endpoint answering a web page, then a key set without keys, then
    one far too large."""
    with LocalGoogle(CLIENT_ID, SECRET, [WORKER]) as odd:
        async with make_client(
            public_url="http://portus.test", oauth=google_settings(odd)
        ) as portus:
            odd.broken_token_answer = HTMLResponse("<html>maintenance</html>")
            assert oauth_error(await odd.sign_in(portus, "google_oauth2", WORKER.sub)) == (
                "the sign-in provider's token answer cannot be read"
            )
            odd.broken_token_answer = None
            odd.key_set_answer = JSONResponse({})
            assert oauth_error(await odd.sign_in(portus, "google_oauth2", WORKER.sub)) == (
                "the sign-in provider's key set cannot be read"
            )
            # 3 MB of keys: read no further than 1 MiB
            huge = {"keys": [odd.key.as_dict(private=False)] * 8000}
            odd.key_set_answer = JSONResponse(huge)
            assert len(odd.key_set_answer.body) > 3_000_000
            assert oauth_error(await odd.sign_in(portus, "google_oauth2", WORKER.sub)) == (
                "the sign-in provider's key set is too large"
            )


async def test_a_token_for_several_audiences_must_name_us_as_its_party(
    make_client: ClientFactory,
) -> None:
    with LocalGoogle(CLIENT_ID, SECRET, [WORKER]) as shared:
        async with make_client(
            public_url="http://portus.test", oauth=google_settings(shared)
        ) as portus:
            shared.extra_claims = {"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}
            assert oauth_error(await shared.sign_in(portus, "google_oauth2", WORKER.sub)) == (
                "the ID token is not valid: it was issued to another party (azp)"
            )
            shared.extra_claims = {"aud": [CLIENT_ID, "another-app"], "azp": CLIENT_ID}
            signed_in = await shared.sign_in(portus, "google_oauth2", WORKER.sub)
            assert signed_in.headers["location"] == "/"
