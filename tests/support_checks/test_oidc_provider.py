"""The LemonLDAP::NG OpenID Connect provider fixture works as a real provider should.

A relying party written with Authlib runs the authorization code flow with PKCE against
it: discovery, login through the portal's form, the code exchange, the ID token's RS256
signature checked against the JWKS, and the provider's refusals (a reused code, a wrong
code verifier, a wrong password).
"""

from __future__ import annotations

import os
import re
import secrets
import time
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import oidc_provider
from tests.support.oidc_provider import (
    DEMO_USERS,
    LdapBackend,
    LemonLdapProvider,
    LoginFailed,
    OidcClient,
    login_form,
)
from tests.support.slapd import GROUPS, PEOPLE, SERVICE_DN, SERVICE_PASSWORD, USERS, Slapd

with warnings.catch_warnings():
    # authlib >= 1.7 asks for the httpx2 package and warns when it falls back to httpx; its
    # own "always" filter would otherwise outrank pytest's
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
"""Never requested: the helper returns the redirect to it without following it."""

CONFIDENTIAL = OidcClient(
    client_id="portus-test",
    client_secret="portus-test-secret",
    redirect_uris=(REDIRECT_URI, "http://127.0.0.1:9/other"),
)
PUBLIC = OidcClient(client_id="portus-public", client_secret=None, redirect_uris=(REDIRECT_URI,))
SCOPE = "openid email profile"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LemonLdapProvider]:
    with LemonLdapProvider(
        tmp_path_factory.mktemp("llng"), clients=[CONFIDENTIAL, PUBLIC]
    ) as server:
        yield server


@pytest.fixture(scope="module")
def discovery(provider: LemonLdapProvider) -> dict[str, Any]:
    response = httpx.get(provider.discovery_url, trust_env=False)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A fresh user agent per test: no portal session carried over."""
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client


def _relying_party(client: OidcClient) -> OAuth2Client:
    return OAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint_auth_method="client_secret_basic" if client.client_secret else "none",
        redirect_uri=REDIRECT_URI,
        scope=SCOPE,
        code_challenge_method="S256",
        trust_env=False,
        timeout=10.0,
    )


class _Authorization:
    """One authorization request: its URL and the values the relying party keeps."""

    def __init__(self, rp: OAuth2Client, discovery: dict[str, Any]) -> None:
        self.code_verifier = generate_token(48)
        self.nonce = secrets.token_urlsafe(16)
        self.url, self.state = rp.create_authorization_url(
            discovery["authorization_endpoint"],
            code_verifier=self.code_verifier,
            nonce=self.nonce,
        )


def _callback_params(callback: str) -> dict[str, str]:
    assert callback.startswith(REDIRECT_URI + "?"), callback
    return {key: values[0] for key, values in parse_qs(urlsplit(callback).query).items()}


def _verify_id_token(
    id_token: str, discovery: dict[str, Any], *, audience: str, nonce: str
) -> dict[str, Any]:
    jwks = httpx.get(discovery["jwks_uri"], trust_env=False).json()
    token = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": discovery["issuer"]},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True, "value": nonce},
    ).validate(token.claims)
    claims: dict[str, Any] = token.claims
    return claims


def test_discovery_document_names_the_issuer_and_endpoints(
    provider: LemonLdapProvider, discovery: dict[str, Any]
) -> None:
    assert discovery["issuer"] == provider.issuer == f"http://127.0.0.1:{provider.port}"
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert discovery[endpoint].startswith(provider.issuer + "/"), endpoint
    assert "code" in discovery["response_types_supported"]
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert "S256" in discovery["code_challenge_methods_supported"]
    assert {"openid", "email", "profile"} <= set(discovery["scopes_supported"])

    jwks = httpx.get(discovery["jwks_uri"], trust_env=False).json()
    (key,) = jwks["keys"]
    assert key["kty"] == "RSA"
    assert key["kid"] == provider.key_id
    assert "d" not in key


@pytest.mark.parametrize("client", [CONFIDENTIAL, PUBLIC], ids=["confidential", "public"])
def test_authorization_code_flow_with_pkce(
    provider: LemonLdapProvider,
    discovery: dict[str, Any],
    browser: httpx.Client,
    client: OidcClient,
) -> None:
    with _relying_party(client) as rp:
        request = _Authorization(rp, discovery)
        callback = provider.login(browser, request.url)
        params = _callback_params(callback)
        assert params["state"] == request.state
        assert "code" in params

        token = rp.fetch_token(
            discovery["token_endpoint"],
            authorization_response=callback,
            code_verifier=request.code_verifier,
        )
        assert token["token_type"].lower() == "bearer"
        claims = _verify_id_token(
            token["id_token"], discovery, audience=client.client_id, nonce=request.nonce
        )
        assert claims["exp"] > time.time()
        dwho = DEMO_USERS["dwho"]
        assert claims["sub"] == "dwho"
        assert claims["preferred_username"] == "dwho"
        assert claims["email"] == dwho["email"]
        assert claims["name"] == dwho["name"]
        assert sorted(claims["groups"]) == dwho["groups"]

        userinfo = rp.get(discovery["userinfo_endpoint"]).json()
        assert userinfo["sub"] == "dwho"
        assert userinfo["email"] == dwho["email"]


def test_another_user_and_a_second_authorization_without_the_form(
    provider: LemonLdapProvider, discovery: dict[str, Any], browser: httpx.Client
) -> None:
    with _relying_party(CONFIDENTIAL) as rp:
        first = _Authorization(rp, discovery)
        callback = provider.login(browser, first.url, "rtyler")
        assert _callback_params(callback)["state"] == first.state

        # the portal's session cookie is in `browser`: no form this time
        second = _Authorization(rp, discovery)
        callback = provider.login(browser, second.url, "nobody", "not-asked")
        token = rp.fetch_token(
            discovery["token_endpoint"],
            authorization_response=callback,
            code_verifier=second.code_verifier,
        )
        claims = _verify_id_token(
            token["id_token"], discovery, audience=CONFIDENTIAL.client_id, nonce=second.nonce
        )
        assert claims["sub"] == "rtyler"
        assert claims["email"] == DEMO_USERS["rtyler"]["email"]


def test_a_code_is_exchanged_once_only(
    provider: LemonLdapProvider, discovery: dict[str, Any], browser: httpx.Client
) -> None:
    with _relying_party(CONFIDENTIAL) as rp:
        request = _Authorization(rp, discovery)
        callback = provider.login(browser, request.url)
        rp.fetch_token(
            discovery["token_endpoint"],
            authorization_response=callback,
            code_verifier=request.code_verifier,
        )
        with pytest.raises(OAuthError) as refused:
            rp.fetch_token(
                discovery["token_endpoint"],
                authorization_response=callback,
                code_verifier=request.code_verifier,
            )
        assert refused.value.error == "invalid_grant"


def test_a_wrong_code_verifier_is_refused(
    provider: LemonLdapProvider, discovery: dict[str, Any], browser: httpx.Client
) -> None:
    with _relying_party(CONFIDENTIAL) as rp:
        request = _Authorization(rp, discovery)
        callback = provider.login(browser, request.url)
        with pytest.raises(OAuthError) as refused:
            rp.fetch_token(
                discovery["token_endpoint"],
                authorization_response=callback,
                code_verifier=generate_token(48),
            )
        assert refused.value.error == "invalid_grant"


def test_a_wrong_password_shows_the_form_again(
    provider: LemonLdapProvider, discovery: dict[str, Any], browser: httpx.Client
) -> None:
    with _relying_party(CONFIDENTIAL) as rp:
        request = _Authorization(rp, discovery)
        response = provider.submit_login(browser, request.url, "dwho", "not-the-password")
        assert "location" not in response.headers
        assert login_form(response.text) is not None
        # the portal's message 5 is PE_BADCREDENTIALS ("Wrong username or password")
        assert re.search(r"trmsg=.5\b", response.text)
        assert "code=" not in response.text

        with pytest.raises(LoginFailed):
            provider.login(browser, request.url, "dwho", "still-wrong")


def test_stop_ends_the_server_process_group(tmp_path: Any) -> None:
    server = LemonLdapProvider(tmp_path, clients=[CONFIDENTIAL])
    server.start()
    assert server.start_seconds is not None
    pid = server.pid
    assert pid is not None
    assert os.getpgid(pid) == pid
    server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    with pytest.raises(httpx.TransportError):
        httpx.get(server.discovery_url, trust_env=False, timeout=2.0)


def test_a_missing_portal_fails_in_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setattr(oidc_provider, "PORTAL_PSGI", tmp_path / "missing.psgi")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="LemonLDAP::NG portal not installed"):
        oidc_provider.require_lemonldap()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="LemonLDAP::NG portal not installed"):
        oidc_provider.require_lemonldap()


class _BrokenProvider(LemonLdapProvider):
    """Names an authentication backend that does not exist: the portal cannot initialise."""

    def _lm_conf(self) -> dict[str, object]:
        return {**super()._lm_conf(), "authentication": "NoSuchBackend"}


def test_a_broken_configuration_fails_fast_with_the_log(tmp_path: Any) -> None:
    server = _BrokenProvider(tmp_path, clients=[CONFIDENTIAL])
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="HTTP 500") as failed:
        server.start()
    assert time.monotonic() - began < 15
    assert "Initialization failed" in str(failed.value)
    assert not server.running


@pytest.fixture(scope="module")
def ldap_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LemonLdapProvider]:
    """The provider with its users in the suite's test directory (a real slapd)."""
    with Slapd() as slapd:
        backend = LdapBackend(
            url=f"ldap://127.0.0.1:{slapd.port}",
            base=PEOPLE,
            bind_dn=SERVICE_DN,
            bind_password=SERVICE_PASSWORD,
            group_base=GROUPS,
        )
        with LemonLdapProvider(
            tmp_path_factory.mktemp("llng-ldap"), clients=[CONFIDENTIAL], ldap=backend
        ) as server:
            yield server


def test_users_from_an_ldap_directory(
    ldap_provider: LemonLdapProvider, browser: httpx.Client
) -> None:
    discovery = httpx.get(ldap_provider.discovery_url, trust_env=False).json()
    password, mail, _ = USERS["alice"]
    with _relying_party(CONFIDENTIAL) as rp:
        refused = _Authorization(rp, discovery)
        with pytest.raises(LoginFailed):
            ldap_provider.login(browser, refused.url, "alice", "alice")

        # a fresh client: this one's lemonldappdata cookie still holds the refused request
        request = _Authorization(rp, discovery)
        with httpx.Client(trust_env=False, timeout=10.0) as fresh:
            callback = ldap_provider.login(fresh, request.url, "alice", password)
        assert _callback_params(callback)["state"] == request.state
        token = rp.fetch_token(
            discovery["token_endpoint"],
            authorization_response=callback,
            code_verifier=request.code_verifier,
        )
    claims = _verify_id_token(
        token["id_token"], discovery, audience=CONFIDENTIAL.client_id, nonce=request.nonce
    )
    assert claims["sub"] == claims["preferred_username"] == "alice"
    assert claims["email"] == mail
    assert claims["name"] == "Alice"
    # groupOfNames "developers" only: "qa" is a groupOfUniqueNames
    assert claims["groups"] == ["developers"]
