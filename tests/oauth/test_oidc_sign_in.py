"""Sign-in with OpenID Connect against a real provider: LemonLDAP::NG's portal
(tests/support/oidc_provider.py) on 127.0.0.1, signing RS256 ID tokens. The browser is an
httpx client that carries cookies between us (the ASGI app) and the provider, as a browser
would; the provider is never told anything by us but through that browser and the back
channel (code exchange, discovery, keys)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models import OAuthLogin, User
from app.oauth.endpoints import BROWSER_COOKIE
from app.oauth.providers import OpenIdConnect, enabled_providers
from app.oauth.types import ProviderFailed
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.oidc_provider import LemonLdapProvider, OidcClient

PUBLIC_URL = "http://portus.test"
CALLBACK = f"{PUBLIC_URL}/api/v1/oauth/openid_connect/callback"
CLIENT = OidcClient("portus", "portus-client-secret", (CALLBACK,))
OTHER_CLIENT = OidcClient("another-app", "another-secret", ("http://other.test/cb",))


@pytest.fixture(scope="module")
def provider() -> Iterator[LemonLdapProvider]:
    with LemonLdapProvider(clients=[CLIENT, OTHER_CLIENT]) as running:
        yield running


def oauth_settings(provider: LemonLdapProvider, client: OidcClient = CLIENT) -> dict[str, Any]:
    return {
        "openid_connect": {
            "enabled": True,
            "issuer": provider.issuer,
            "identifier": client.client_id,
            "secret": client.client_secret,
        }
    }


@pytest.fixture
async def portus(
    make_client: ClientFactory, provider: LemonLdapProvider
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(public_url=PUBLIC_URL, oauth=oauth_settings(provider)) as client:
        yield client


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = urlsplit(response.headers["location"])
    assert location.path == "/sign_in", response.headers["location"]
    return parse_qs(location.query)["oauth_error"][0]


async def start(portus: httpx.AsyncClient, return_to: str = "/dashboard") -> str:
    """The browser asks us to sign in: the provider's URL (our cookie is in `portus`)."""
    response = await portus.get(
        "/api/v1/oauth/openid_connect/start", params={"return_to": return_to}
    )
    assert response.status_code == 303, response.text
    assert BROWSER_COOKIE in response.cookies
    return str(response.headers["location"])


async def back(portus: httpx.AsyncClient, callback_url: str) -> httpx.Response:
    """The provider sends the browser back to us."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    return await portus.get(f"{parts.path}?{parts.query}")


async def sign_in(
    portus: httpx.AsyncClient, provider: LemonLdapProvider, username: str = "dwho"
) -> httpx.Response:
    url = await start(portus)
    with httpx.Client(timeout=30) as browser:
        callback_url = provider.login(browser, url, username)
    return await back(portus, callback_url)


async def test_the_whole_flow_signs_in_and_later_finds_the_same_account(
    portus: httpx.AsyncClient, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    url = await start(portus)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(provider.url)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]

    with httpx.Client(timeout=30) as browser:
        response = await back(portus, provider.login(browser, url))
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    me = (await portus.get("/api/v1/me")).json()
    assert me["username"] == "dwho" and me["email"] == "dwho@badwolf.org"
    user = (await session.execute(select(User).where(User.username == "dwho"))).scalar_one()
    assert (user.provider, user.uid, user.encrypted_password) == ("openid_connect", "dwho", None)

    # In another browser: the same account, found by provider and subject.
    portus.cookies.clear()
    again = await sign_in(portus, provider)
    assert again.status_code == 303 and again.headers["location"] == "/dashboard"
    assert (await portus.get("/api/v1/me")).json()["id"] == user.id


async def test_the_account_is_never_joined_by_email(
    portus: httpx.AsyncClient, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    """A local `rtyler` with the provider's e-mail stays apart: the provider's rtyler is asked
    for another username, and gets no e-mail (it belongs to the other account)."""
    local = await factories.create_user(session, username="rtyler", email="rtyler@badwolf.org")
    response = await sign_in(portus, provider, "rtyler")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/oauth/username"
    token = parse_qs(location.query)["token"][0]

    pending = await portus.get("/api/v1/oauth/signup", params={"token": token})
    assert pending.json() == {
        "provider": "openid_connect",
        "email": "rtyler@badwolf.org",
        "suggested_username": "rtyler",
        "return_to": "/dashboard",
    }
    taken = await portus.post("/api/v1/oauth/signup", json={"token": token, "username": "rtyler"})
    assert taken.status_code == 422
    assert taken.json()["message"]["username"] == ["has already been taken"]
    created = await portus.post(
        "/api/v1/oauth/signup", json={"token": token, "username": "rose-tyler"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["user"]["username"] == "rose-tyler"
    me = (await portus.get("/api/v1/me")).json()
    assert me["username"] == "rose-tyler" and me["id"] != local.id
    # The token worked once.
    reused = await portus.post("/api/v1/oauth/signup", json={"token": token, "username": "x1"})
    assert reused.status_code == 404


async def test_a_replayed_callback_and_a_replayed_code_are_refused(
    portus: httpx.AsyncClient, provider: LemonLdapProvider
) -> None:
    url = await start(portus)
    with httpx.Client(timeout=30) as browser:
        callback_url = provider.login(browser, url)
        first = await back(portus, callback_url)
        assert first.status_code == 303 and first.headers["location"] == "/dashboard"
        # The same callback again: its state was used.
        assert error_of(await back(portus, callback_url)) == (
            "this sign-in was not started here, or was used already: try again"
        )
        # The old code with a new state: the provider refuses the code.
        fresh = parse_qs(urlsplit(await start(portus)).query)["state"][0]
        code = parse_qs(urlsplit(callback_url).query)["code"][0]
    replay = f"{CALLBACK}?code={code}&state={fresh}"
    assert error_of(await back(portus, replay)).startswith("the sign-in provider refused the code")


async def test_a_callback_in_another_browser_is_refused(
    portus: httpx.AsyncClient, provider: LemonLdapProvider
) -> None:
    """Login CSRF: a sign-in started by someone else, finished in this browser."""
    url = await start(portus)
    with httpx.Client(timeout=30) as browser:
        callback_url = provider.login(browser, url)
    portus.cookies.delete(BROWSER_COOKIE)
    assert error_of(await back(portus, callback_url)) == (
        "this sign-in was not started here, or was used already: try again"
    )


async def test_a_wrong_nonce_is_refused(
    portus: httpx.AsyncClient, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    url = await start(portus)
    state = parse_qs(urlsplit(url).query)["state"][0]
    await session.execute(
        update(OAuthLogin).where(OAuthLogin.state == state).values(nonce="not-the-nonce")
    )
    with httpx.Client(timeout=30) as browser:
        callback_url = provider.login(browser, url)
    assert "nonce" in error_of(await back(portus, callback_url))


async def test_a_disabled_account_is_refused(
    portus: httpx.AsyncClient, provider: LemonLdapProvider, session: AsyncSession
) -> None:
    assert (await sign_in(portus, provider, "msmith")).status_code == 303
    await session.execute(update(User).where(User.username == "msmith").values(enabled=False))
    portus.cookies.clear()
    assert error_of(await sign_in(portus, provider, "msmith")) == "this account has been disabled"


async def test_the_provider_refusing_the_sign_in_is_shown(
    portus: httpx.AsyncClient,
) -> None:
    response = await portus.get(
        "/api/v1/oauth/openid_connect/callback",
        params={"error": "access_denied", "error_description": "The user said no"},
    )
    assert error_of(response) == "the sign-in was cancelled or refused at the provider"
    # Anybody can make such a link: its words never reach our sign-in page.
    crafted = await portus.get(
        "/api/v1/oauth/openid_connect/callback",
        params={"error": "x", "error_description": "Your account is locked: call +1 555 0100"},
    )
    assert error_of(crafted) == "the sign-in provider refused the sign-in"


class TestTheIdTokenChecks:
    """The ID token's checks, on real tokens of the provider: one issued to another client
    (wrong audience), and one read after it expired."""

    @staticmethod
    async def real_id_token(provider: LemonLdapProvider, client: OidcClient) -> tuple[str, str]:
        """An ID token the provider issued to `client` for dwho, and its nonce."""
        oidc = OpenIdConnect()
        ours = enabled_providers(settings_with(oauth_settings(provider, client)))["openid_connect"]
        started = await oidc.start(ours, client.redirect_uris[0])
        with httpx.Client(timeout=30) as browser:
            callback_url = provider.login(browser, started.url)
        code = parse_qs(urlsplit(callback_url).query)["code"][0]
        async with oidc._client(ours, client.redirect_uris[0]) as http:
            document = await oidc.discovery(ours)
            token = await http.fetch_token(
                document["token_endpoint"], code=code, code_verifier=started.code_verifier
            )
        return str(token["id_token"]), started.nonce

    async def test_a_token_for_another_client_is_refused(self, provider: LemonLdapProvider) -> None:
        id_token, nonce = await self.real_id_token(provider, OTHER_CLIENT)
        ours = enabled_providers(settings_with(oauth_settings(provider)))["openid_connect"]
        with pytest.raises(ProviderFailed, match="aud"):
            await OpenIdConnect()._verified_claims(ours, id_token, nonce)

    async def test_an_expired_token_is_refused(self, provider: LemonLdapProvider) -> None:
        id_token, nonce = await self.real_id_token(provider, CLIENT)
        ours = enabled_providers(settings_with(oauth_settings(provider)))["openid_connect"]
        assert (await OpenIdConnect()._verified_claims(ours, id_token, nonce))["sub"] == "dwho"
        two_hours_later = OpenIdConnect(clock=lambda: int(time.time()) + 7200)
        with pytest.raises(ProviderFailed, match="expired"):
            await two_hours_later._verified_claims(ours, id_token, nonce)


def settings_with(oauth: dict[str, Any]) -> Settings:
    return Settings(oauth=oauth)
