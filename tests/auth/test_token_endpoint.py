from __future__ import annotations

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jose import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.keys import load_signing_key
from app.core.security import TokenDigester
from app.models import RefreshToken, User, Visibility
from app.users import service as users
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST
from tests.fixtures.jwt import access, claims, header
from tests.support.auth import basic, token_headers

SERVICE = REGISTRY_HOST


async def token(
    client: httpx.AsyncClient, *scopes: str, auth: dict[str, str] | None = None, **params: str
) -> httpx.Response:
    query: list[tuple[str, str | int | float | bool | None]] = [
        ("service", params.pop("service", SERVICE))
    ]
    query += [("scope", s) for s in scopes]
    query += list(params.items())
    return await client.get("/v2/token", params=query, headers=auth or {})


class TestTokenShape:
    async def test_claims_the_registry_accepts(
        self, session: AsyncSession, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        response = await token(
            client, "repository:alice/app:pull", auth=basic("alice", PASSWORD), account="mallory"
        )
        assert response.status_code == 200
        body = response.json()
        assert body["token"] == body["access_token"]
        assert body["expires_in"] == 900
        assert body["issued_at"].endswith("Z")
        jwt_claims = claims(body["token"])
        assert jwt_claims["sub"] == alice.username  # the authenticated user, not `account`
        assert jwt_claims["aud"] == SERVICE and isinstance(jwt_claims["aud"], str)
        assert jwt_claims["iss"] == settings.machine_fqdn.value
        for name in ("exp", "nbf", "iat"):
            assert isinstance(jwt_claims[name], int)
        assert jwt_claims["exp"] - jwt_claims["iat"] == 900
        key = load_signing_key(settings)
        jwt_header = header(body["token"])
        assert jwt_header["alg"] == "ES256"
        assert jwt_header["kid"] == key.kid
        assert jwt_header["x5c"] == key.x5c
        # The signature verifies with the certificate the registry gets in its rootcertbundle.
        certificate = x509.load_pem_x509_certificate(key.certificate_path.read_bytes())
        public_pem = certificate.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        )
        verified = jwt.decode(body["token"], public_pem.decode(), audience=SERVICE)
        assert verified["access"] == [
            {"type": "repository", "name": "alice/app", "actions": ["pull"]}
        ]

    async def test_login_without_scope_gets_empty_access(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        response = await token(client, auth=basic("alice", PASSWORD))
        assert response.status_code == 200
        assert claims(response.json()["token"])["access"] == []

    async def test_expiry_from_config(
        self, session: AsyncSession, make_client: ClientFactory
    ) -> None:
        async with make_client(registry={"jwt_expiration_time": {"value": 2}}) as client:
            response = await token(client)
        assert response.json()["expires_in"] == 120

    async def test_missing_service_is_a_400(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v2/token")
        assert response.status_code == 400
        assert response.json()["errors"][0]["message"] == "the service parameter is required"


class TestCredentials:
    async def test_anonymous_gets_public_pull_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        registry = await factories.create_registry(session)
        await factories.create_namespace(
            session, registry, name="pub", visibility=Visibility.public
        )
        response = await token(client, "repository:pub/app:pull,push,delete")
        assert response.status_code == 200
        assert access(response.json()["token"]) == {"repository:pub/app": ["pull"]}
        assert claims(response.json()["token"])["sub"] == ""

    async def test_wrong_password(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await factories.create_user(session, username="alice")
        response = await token(client, "repository:alice/a:pull", auth=basic("alice", "nope"))
        assert response.status_code == 401
        assert response.json() == {
            "errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]
        }
        assert response.headers["www-authenticate"].startswith("Basic")

    async def test_unknown_user_gets_the_same_answer(self, client: httpx.AsyncClient) -> None:
        response = await token(client, auth=basic("nobody", "nope"))
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "invalid username or password"

    async def test_malformed_basic_header(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v2/token", params={"service": SERVICE}, headers={"Authorization": "Basic !!!"}
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "malformed Basic credentials"

    async def test_malformed_scope(self, client: httpx.AsyncClient) -> None:
        response = await token(client, "repository:alice")
        assert response.status_code == 401
        assert "malformed scope" in response.json()["errors"][0]["message"]

    async def test_disabled_user_is_refused(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        user = await factories.create_user(session, username="alice")
        user.enabled = False
        await session.flush()
        response = await token(client, auth=basic("alice", PASSWORD))
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "this account has been disabled"

    async def test_application_token_logs_in(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        secret = await factories.create_token(session, digester, alice)
        assert registry.id
        response = await token(client, "repository:alice/app:push", auth=basic("alice", secret))
        assert response.status_code == 200
        assert access(response.json()["token"]) == {"repository:alice/app": ["push"]}

    async def test_application_token_of_another_user_is_refused(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        await factories.create_user(session, username="bob")
        secret = await factories.create_token(session, digester, alice)
        response = await token(client, auth=basic("bob", secret))
        assert response.status_code == 401

    async def test_bot_password_login_is_refused_but_its_token_works(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        bot = await factories.create_user(session, username="ci-bot", bot=True)
        assert bot.encrypted_password is None
        secret = await factories.create_token(session, digester, bot)
        assert (await token(client, auth=basic("ci-bot", PASSWORD))).status_code == 401
        assert (await token(client, auth=basic("ci-bot", secret))).status_code == 200

    async def test_ten_failures_lock_this_address_out_of_the_account_not_its_tokens(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        """Portus locked the account for everyone; now only the guessing address is locked out
        of it (tests/auth/test_login_guessing.py has the owner elsewhere)."""
        alice = await factories.create_user(session, username="alice")
        secret = await factories.create_token(session, digester, alice)
        for _ in range(10):
            assert (await token(client, auth=basic("alice", "wrong"))).status_code in (401, 429)
        locked = await token(client, auth=basic("alice", PASSWORD))
        assert locked.status_code == 429
        assert "for this account from this address" in locked.json()["errors"][0]["message"]
        assert int(locked.headers["Retry-After"]) > 0
        # Application tokens keep working, so CI pipelines are not locked out by a guesser.
        assert (await token(client, auth=basic("alice", secret))).status_code == 200


class TestScopes:
    async def test_unknown_service_grants_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        response = await token(
            client, "repository:a/b:pull", auth=basic("root", PASSWORD), service="other:5000"
        )
        assert access(response.json()["token"]) == {"repository:a/b": []}

    async def test_catalog_is_for_admins_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        await factories.create_user(session, username="alice")
        admin = await token(client, "registry:catalog:*", auth=basic("root", PASSWORD))
        user = await token(client, "registry:catalog:*", auth=basic("alice", PASSWORD))
        assert access(admin.json()["token"]) == {"registry:catalog": ["*"]}
        assert access(user.json()["token"]) == {"registry:catalog": []}

    async def test_other_registry_scopes_and_unknown_types_get_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        response = await token(
            client, "registry:other:*", "plugin:x:pull", auth=basic("root", PASSWORD)
        )
        assert access(response.json()["token"]) == {"registry:other": [], "plugin:x": []}

    async def test_unknown_actions_are_dropped_and_star_is_kept_when_all_is_held(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        response = await token(
            client,
            "repository:alice/a:pull,fly",
            "repository:alice/b:*",
            auth=basic("alice", PASSWORD),
        )
        assert access(response.json()["token"]) == {
            "repository:alice/a": ["pull"],
            "repository:alice/b": ["*"],
        }

    async def test_repeated_scopes_are_merged(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        response = await token(
            client,
            "repository:alice/a:pull",
            "repository:alice/a:push",
            auth=basic("alice", PASSWORD),
        )
        assert access(response.json()["token"]) == {"repository:alice/a": ["pull", "push"]}


class TestRefreshTokens:
    async def _login(self, client: httpx.AsyncClient, user: str = "alice") -> str:
        response = await token(
            client, auth=basic(user, PASSWORD), offline_token="true", client_id="docker"
        )
        assert response.status_code == 200
        refresh: str = response.json()["refresh_token"]
        return refresh

    async def test_docker_login_gets_a_refresh_token_stored_hashed(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        refresh = await self._login(client)
        stored = (await session.scalars(select(RefreshToken))).all()
        assert len(stored) == 1
        assert refresh not in (stored[0].token_digest, stored[0].lookup)
        assert stored[0].client_id == "docker"

    async def test_no_refresh_token_without_offline_token(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_user(session, username="alice")
        response = await token(client, auth=basic("alice", PASSWORD))
        assert "refresh_token" not in response.json()

    async def test_anonymous_gets_no_refresh_token(self, client: httpx.AsyncClient) -> None:
        response = await token(client, offline_token="true")
        assert response.status_code == 200
        assert "refresh_token" not in response.json()

    async def test_refresh_grant(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        refresh = await self._login(client)
        response = await client.post(
            "/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "service": SERVICE,
                "client_id": "containers/image",
                "scope": "repository:alice/app:pull,push",
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"] == refresh
        assert body["scope"] == "repository:alice/app:pull,push"
        assert claims(body["access_token"])["sub"] == "alice"
        assert access(body["access_token"]) == {"repository:alice/app": ["pull", "push"]}

    async def test_password_grant_with_offline_access(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        response = await client.post(
            "/v2/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": PASSWORD,
                "service": SERVICE,
                "client_id": "containerd-client",
                "access_type": "offline",
                "scope": "repository:alice/a:pull repository:alice/b:push",
            },
        )
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"].startswith("prt_")
        assert access(body["access_token"]) == {
            "repository:alice/a": ["pull"],
            "repository:alice/b": ["push"],
        }

    async def test_password_change_revokes_refresh_tokens(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        refresh = await self._login(client)
        await session.refresh(alice)
        await users.set_password(session, alice, "a brand new password")
        await session.flush()
        response = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE},
        )
        assert response.status_code == 401
        # A password change deletes the user's refresh tokens (and sessions, reset links).
        assert "invalid refresh token" in response.json()["errors"][0]["message"]
        assert list(await session.scalars(select(RefreshToken))) == []

    async def test_disabled_user_cannot_refresh(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        refresh = await self._login(client)
        await session.refresh(alice)
        alice.enabled = False
        await session.flush()
        response = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE},
        )
        assert response.status_code == 401

    async def test_refresh_token_bound_to_its_service(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_user(session, username="alice")
        refresh = await self._login(client)
        response = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "x:1"},
        )
        assert response.status_code == 401

    @pytest.mark.parametrize("bad", ["prt_nothing", "prt_aaaaaaaaaaaaaaaa_" + "x" * 43, ""])
    async def test_forged_refresh_tokens(self, client: httpx.AsyncClient, bad: str) -> None:
        response = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": bad, "service": SERVICE},
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] == "invalid refresh token"

    async def test_unknown_grant_type(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v2/token", data={"grant_type": "authorization_code", "service": SERVICE}
        )
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "UNSUPPORTED"
        assert "authorization_code" in response.json()["errors"][0]["message"]

    async def test_failed_logins_are_counted_even_though_the_request_fails(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        await client.post(
            "/v2/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": "bad",
                "service": SERVICE,
            },
        )
        refreshed = await session.scalar(select(User).where(User.id == alice.id))
        assert refreshed is not None
        await session.refresh(refreshed)
        assert refreshed.failed_attempts == 1


async def test_password_grant_accepts_an_application_token(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    """containerd and BuildKit POST `grant_type=password` with whatever secret they hold."""
    await factories.create_registry(session)
    bot = await factories.create_user(session, username="ci-bot", bot=True)
    secret = await factories.create_token(session, digester, bot)
    registry_ns = await factories.create_namespace(
        session, (await factories.create_registry(session, hostname="other:5000")), name="team"
    )
    assert registry_ns.id
    response = await client.post(
        "/v2/token",
        data={
            "grant_type": "password",
            "username": "ci-bot",
            "password": secret,
            "service": SERVICE,
            "scope": "repository:team/app:pull",
        },
    )
    assert response.status_code == 200
    assert claims(response.json()["access_token"])["sub"] == "ci-bot"
    # `team` exists only in the other registry: nothing is granted for this service.
    assert access(response.json()["access_token"]) == {"repository:team/app": []}


class TestRefreshTokenRevocation:
    async def _docker_login(self, client: httpx.AsyncClient, user: str, client_id: str) -> str:
        response = await token(
            client, auth=basic(user, PASSWORD), offline_token="true", client_id=client_id
        )
        refresh: str = response.json()["refresh_token"]
        return refresh

    async def _refresh(self, client: httpx.AsyncClient, refresh: str) -> int:
        response = await client.post(
            "/v2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE},
        )
        return response.status_code

    async def test_owner_lists_and_revokes_one_or_all(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        laptop = await self._docker_login(client, "alice", "docker")
        ci = await self._docker_login(client, "alice", "containerd-client")
        spare = await self._docker_login(client, "alice", "buildkit")
        headers = await token_headers(session, digester, alice)
        listed = await client.get(f"/api/v1/users/{alice.id}/refresh_tokens", headers=headers)
        assert [t["client_id"] for t in listed.json()] == [
            "docker",
            "containerd-client",
            "buildkit",
        ]
        assert all("digest" not in str(t) and "lookup" not in t for t in listed.json())
        first = listed.json()[0]["id"]
        one = await client.delete(
            f"/api/v1/users/{alice.id}/refresh_tokens/{first}", headers=headers
        )
        assert one.status_code == 204
        assert await self._refresh(client, laptop) == 401
        assert await self._refresh(client, ci) == 200
        everything = await client.delete(
            f"/api/v1/users/{alice.id}/refresh_tokens", headers=headers
        )
        assert everything.status_code == 204
        assert await self._refresh(client, ci) == 401
        assert await self._refresh(client, spare) == 401

    async def test_others_cannot_see_or_revoke(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        bob = await factories.create_user(session, username="bob")
        headers = await token_headers(session, digester, bob)
        base = f"/api/v1/users/{alice.id}/refresh_tokens"
        assert (await client.get(base, headers=headers)).status_code == 403
        assert (await client.delete(base, headers=headers)).status_code == 403
