"""`oauth.*` as Portus's config has it: what is offered, what is refused, and failures that are
the provider's (no provider needed for these)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import ConfigError, Settings, load_settings
from app.core.db import utcnow
from app.models import OAuthLogin, OAuthSignup
from app.oauth.service import bounded, create_account, forget_expired, safe_return_to
from app.oauth.types import Identity, ProviderFailed
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD
from tests.support.tools import free_port

OIDC = {
    "openid_connect": {
        "enabled": True,
        "issuer": "http://127.0.0.1:9/",
        "identifier": "portus",
        "secret": "client-secret",
    }
}


def test_openid_2_is_refused_at_start_pointing_to_openid_connect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.yml"
    config.write_text("oauth:\n  open_id:\n    enabled: true\n")
    monkeypatch.setenv("PORTUS_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"OpenID 2\.0.*use oauth\.openid_connect"):
        load_settings()


def test_openid_connect_needs_its_keys_when_enabled(settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"oauth\.openid_connect needs identifier, secret"):
        Settings(oauth={"openid_connect": {"enabled": True, "issuer": "https://id.example"}})


async def test_the_sign_in_page_gets_one_button_per_enabled_provider(
    make_client: ClientFactory,
) -> None:
    async with make_client() as client:
        assert (await client.get("/api/v1/settings")).json()["oauth"] == {
            "local_login": True,
            "providers": [],
        }
    async with make_client(oauth={**OIDC, "local_login": {"enabled": False}}) as client:
        assert (await client.get("/api/v1/settings")).json()["oauth"] == {
            "local_login": False,
            "providers": [
                {
                    "name": "openid_connect",
                    "label": "OpenID Connect",
                    "url": "/api/v1/oauth/openid_connect/start",
                }
            ],
        }


async def test_local_login_off_refuses_password_sessions_not_tokens(
    session: AsyncSession, make_client: ClientFactory, digester: object
) -> None:
    await factories.create_user(session, username="alice")
    async with make_client(oauth={"local_login": {"enabled": False}}) as client:
        refused = await client.post(
            "/api/v1/session", json={"username": "alice", "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert "Password sign-in is turned off" in refused.json()["message"]


async def test_a_provider_that_is_down_is_a_clear_message(make_client: ClientFactory) -> None:
    port = free_port()  # nothing listens there
    oauth = {"openid_connect": {**OIDC["openid_connect"], "issuer": f"http://127.0.0.1:{port}"}}
    async with make_client(oauth=oauth) as client:
        response = await client.get("/api/v1/oauth/openid_connect/start")
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/sign_in"
    assert parse_qs(location.query)["oauth_error"] == [
        "the sign-in provider cannot be reached (discovery document)"
    ]


async def test_an_unknown_or_disabled_provider_is_a_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/oauth/github/start")
    assert response.status_code == 404
    assert response.json()["message"] == "no sign-in provider 'github' is enabled"


async def test_a_callback_for_a_provider_disabled_meanwhile_goes_back_to_sign_in(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/oauth/github/callback", params={"code": "x", "state": "y"})
    assert response.status_code == 303
    error = parse_qs(urlsplit(response.headers["location"]).query)["oauth_error"][0]
    assert error == "no sign-in provider 'github' is enabled"


@pytest.mark.parametrize(
    ("identity", "refused", "email", "name_length"),
    [
        (Identity("github", "1", "ann", "ann@intranet", "Ann"), False, None, 3),
        (Identity("github", "1", "ann", "a" * 250 + "@x.example", "A" * 300), False, None, 255),
        (Identity("github", "1", "ann", "ann@acme.example", None), False, "ann@acme.example", 0),
        (Identity("github", "9" * 256, "ann", None, None), True, None, 0),
        (Identity("github", "", "ann", None, None), True, None, 0),
    ],
)
def test_what_a_provider_says_is_kept_as_far_as_it_fits(
    identity: Identity, refused: bool, email: str | None, name_length: int
) -> None:
    if refused:
        with pytest.raises(ProviderFailed, match="subject is empty or too long"):
            bounded(identity)
        return
    kept = bounded(identity)
    assert kept.email == email and len(kept.name or "") == name_length


async def test_a_callback_without_a_started_sign_in_is_refused(
    make_client: ClientFactory,
) -> None:
    async with make_client(oauth=OIDC) as client:
        response = await client.get(
            "/api/v1/oauth/openid_connect/callback", params={"code": "x", "state": "forged"}
        )
    assert response.status_code == 303
    error = parse_qs(urlsplit(response.headers["location"]).query)["oauth_error"][0]
    assert error == "this sign-in was not started here, or was used already: try again"


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/repositories/3", "/repositories/3"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/api/v1/oauth/github/start", "/"),  # a sign-in that would start again
        (None, "/"),
    ],
)
def test_only_paths_of_this_site_are_returned_to(given: str | None, kept: str) -> None:
    assert safe_return_to(given) == kept


async def test_abandoned_sign_ins_are_forgotten(session: AsyncSession) -> None:
    past, future = utcnow() - timedelta(seconds=1), utcnow() + timedelta(minutes=5)
    for n, expires in enumerate((past, future)):
        session.add(
            OAuthLogin(
                state=f"state{n}",
                browser_digest="d",
                provider="openid_connect",
                nonce="n",
                code_verifier="v",
                return_to="/",
                expires_at=expires,
            )
        )
        session.add(
            OAuthSignup(
                lookup=f"lookup{n}",
                token_digest="d",
                provider="openid_connect",
                uid=f"subject{n}",
                suggested_username="someone",
                return_to="/",
                expires_at=expires,
            )
        )
    await session.flush()
    assert await forget_expired(session) == 2
    assert await session.scalar(select(func.count()).select_from(OAuthLogin)) == 1
    assert await session.scalar(select(func.count()).select_from(OAuthSignup)) == 1


async def test_a_first_sign_in_racing_another_of_the_same_identity_finds_its_account(
    session: AsyncSession,
) -> None:
    """Two callbacks of one person at once: the second insert meets the unique index on
    (provider, uid), and the account the first made is the one."""
    first = await factories.create_user(
        session, username="octo", email=None, provider="github", uid="583231", password=None
    )
    racing = Identity("github", "583231", "octo-renamed", None, None)
    assert (await create_account(session, racing, "octo-renamed")).id == first.id
