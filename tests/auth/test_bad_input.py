"""Input no client sends gets a clear 4xx, never a 500 (found by review; kept as regressions)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Activity, RefreshToken
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST
from tests.support.auth import portus_auth, raw_basic, token_headers


class TestTokenEndpoint:
    @pytest.mark.parametrize(
        "credentials",
        [b"ali\x00ce:secret", b"alice:pat_aaaaaaaaaaaaaaaa_\x00" + b"x" * 40, b"\xff\xfe:x"],
    )
    async def test_odd_basic_credentials(
        self, client: httpx.AsyncClient, credentials: bytes
    ) -> None:
        response = await client.get(
            "/v2/token", params={"service": REGISTRY_HOST}, headers=raw_basic(credentials)
        )
        assert response.status_code == 401
        assert response.json()["errors"][0]["message"] in (
            "malformed Basic credentials",
            "invalid username or password",
        )

    async def test_non_ascii_basic_header(self, client: httpx.AsyncClient) -> None:
        response = await client.get(
            "/v2/token",
            params={"service": REGISTRY_HOST},
            headers={b"Authorization": "Basic é".encode("latin-1")},
        )
        assert response.status_code == 401

    @pytest.mark.parametrize(
        ("params", "problem"),
        [
            ({"service": "x" * 300}, "service is longer than 255"),
            ({"service": "a\x00b", "scope": "repository:a/b:pull"}, "service contains control"),
            ({"service": REGISTRY_HOST, "client_id": "d\x00"}, "client_id contains control"),
        ],
    )
    async def test_odd_parameters(
        self, client: httpx.AsyncClient, params: dict[str, str], problem: str
    ) -> None:
        response = await client.get("/v2/token", params=params)
        assert response.status_code == 400
        assert problem in response.json()["errors"][0]["message"]

    async def test_odd_form_fields(self, session: AsyncSession, client: httpx.AsyncClient) -> None:
        for data in (
            {"grant_type": "password", "username": "a\x00", "password": "x", "service": "s"},
            {"grant_type": "refresh_token", "refresh_token": "prt_\x00", "service": "s"},
            {"grant_type": "password", "username": "a", "password": "p" * 2000, "service": "s"},
        ):
            response = await client.post("/v2/token", data=data)
            assert response.status_code in (400, 401), response.text
            assert "errors" in response.json()

    async def test_large_bodies_are_refused_unread(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v2/token",
            content=b"grant_type=password&password=" + b"x" * 100_000,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413

    async def test_only_urlencoded_forms(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v2/token", json={"grant_type": "password"})
        assert response.status_code == 400
        assert "x-www-form-urlencoded" in response.json()["errors"][0]["message"]


class TestRefreshTokensFollowTheirApplicationToken:
    async def test_deleting_the_application_token_revokes_its_refresh_tokens(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        bot = await factories.create_user(session, username="robot", bot=True)
        secret = await factories.create_token(session, digester, bot)
        login = await client.get(
            "/v2/token",
            params={"service": REGISTRY_HOST, "offline_token": "true"},
            auth=("robot", secret),
        )
        refresh = login.json()["refresh_token"]
        admin = await factories.create_user(session, username="root", admin=True)
        admin_secret = await factories.create_token(session, digester, admin)
        token_id = await session.scalar(
            select(RefreshToken.application_token_id).where(RefreshToken.user_id == bot.id)
        )
        assert token_id is not None
        deleted = await client.delete(
            f"/api/v1/users/application_tokens/{token_id}",
            headers=portus_auth("root", admin_secret),
        )
        assert deleted.status_code == 204
        response = await client.post(
            "/v2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "service": REGISTRY_HOST,
            },
        )
        assert response.status_code == 401
        remaining = await session.scalar(select(func.count(RefreshToken.id)))
        assert remaining == 0


class TestRestApi:
    async def _admin(self, session: AsyncSession, digester: TokenDigester) -> dict[str, str]:
        admin = await factories.create_user(session, username="root", admin=True)
        return await token_headers(session, digester, admin)

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/users/100000000000000000000000/application_tokens",
            "/api/v1/namespaces/100000000000000000000000",
            "/api/v1/repositories/100000000000000000000000/tags",
            "/api/v1/users?page=100000000000000000000",
        ],
    )
    async def test_out_of_range_numbers_are_422(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester, path: str
    ) -> None:
        response = await client.get(path, headers=await self._admin(session, digester))
        assert response.status_code == 422

    @pytest.mark.parametrize("key", ["²", "100000000000000000000000"])
    async def test_odd_user_keys_are_404(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester, key: str
    ) -> None:
        response = await client.get(
            f"/api/v1/users/{key}", headers=await self._admin(session, digester)
        )
        assert response.status_code == 404

    async def test_nul_in_a_body_field_is_422(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await self._admin(session, digester)
        body = {"user": {"username": "eve", "email": "e\x00@example.com", "password": "password1"}}
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422
        assert "email" in response.json()["message"]

    @pytest.mark.parametrize("username", ["alice\n", "portus\n", "ALICE"])
    async def test_lookalike_usernames_are_refused(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        username: str,
    ) -> None:
        headers = await self._admin(session, digester)
        await factories.create_user(session, username="alice", email="alice@example.com")
        body = {"user": {"username": username, "email": "x@example.com", "password": "password1"}}
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422
        assert "username" in response.json()["message"]

    async def test_email_case_does_not_make_a_new_address(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await self._admin(session, digester)
        await factories.create_user(session, email="alice@example.com")
        body = {"user": {"username": "al2", "email": "ALICE@example.com", "password": "password1"}}
        response = await client.post("/api/v1/users", json=body, headers=headers)
        assert response.status_code == 422
        assert response.json()["message"] == {"email": ["has already been taken"]}

    async def test_admins_create_tokens_for_bots_and_people(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        headers = await self._admin(session, digester)
        alice = await factories.create_user(session, username="alice")
        response = await client.post(
            f"/api/v1/users/{alice.id}/application_tokens",
            json={"application": "x"},
            headers=headers,
        )
        assert response.status_code == 201  # as Portus 2.4; alice is told by mail
        bot = await factories.create_user(session, username="bot2", bot=True)
        made = await client.post(
            f"/api/v1/users/{bot.id}/application_tokens",
            json={"application": "x"},
            headers=headers,
        )
        assert made.status_code == 201
        activity = await session.scalar(
            select(Activity)
            .where(Activity.key == "application_token.create", Activity.trackable_id == bot.id)
            .order_by(Activity.id.desc())
        )
        assert activity is not None
        admin_id = await session.scalar(select(Activity.owner_id).where(Activity.id == activity.id))
        assert admin_id != bot.id  # the admin did it, and the trail says so

    async def test_users_create_their_first_token_with_their_password(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        response = await client.post(
            f"/api/v1/users/{alice.id}/application_tokens",
            json={"application": "laptop"},
            auth=("alice", PASSWORD),
        )
        assert response.status_code == 201
        wrong = await client.get(
            f"/api/v1/users/{alice.id}/application_tokens", auth=("alice", "nope")
        )
        assert wrong.status_code == 401
