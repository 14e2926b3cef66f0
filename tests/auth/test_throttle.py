"""login_rate_limit: a client that keeps failing gets 429 + Retry-After on password logins,
everywhere passwords are accepted; application tokens keep working; the window ends."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import throttle
from app.auth.credentials import SESSION_COOKIE
from app.core.config import LoginRateLimitSettings
from app.core.db import utcnow
from app.core.security import TokenDigester
from app.models import AccountLoginFailure, LoginFailure
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST
from tests.support.auth import basic

LIMIT = {"login_rate_limit": {"attempts": 3, "window": 600}}


async def _token(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/v2/token", params={"service": REGISTRY_HOST}, headers=headers)


async def test_failures_from_one_client_get_429_everywhere_but_tokens_still_work(
    session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
) -> None:
    await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    secret = await factories.create_token(session, digester, alice)
    async with make_client(**LIMIT) as client:
        # three users guessed once each: no account is locked, but the client is now suspect
        for name in ("bob", "carol", "dave"):
            assert (await _token(client, basic(name, "guess"))).status_code == 401
        refused = await _token(client, basic("alice", PASSWORD))  # even the right password
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 590
        assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        me = await client.get("/api/v1/me", headers=basic("alice", PASSWORD))
        assert me.status_code == 429
        assert "too many failed logins" in me.json()["message"]
        assert "Retry-After" in me.headers
        login = await client.post(
            "/api/v1/session", json={"username": "alice", "password": PASSWORD}
        )
        assert login.status_code == 429
        # application tokens are never refused by it
        assert (await _token(client, basic("alice", secret))).status_code == 200
        assert (await client.get("/api/v1/me", headers=basic("alice", secret))).status_code == 200
        # the window ends
        await session.execute(
            update(LoginFailure).values(window_started_at=utcnow() - timedelta(seconds=601))
        )
        assert (await _token(client, basic("alice", PASSWORD))).status_code == 200


async def test_wrong_tokens_and_session_logins_count_too(
    session: AsyncSession, make_client: ClientFactory
) -> None:
    await factories.create_registry(session)
    await factories.create_user(session, username="alice")
    async with make_client(**LIMIT) as client:
        bad_token = "pat_aaaaaaaaaaaaaaaa_" + "b" * 43
        assert (await _token(client, basic("alice", bad_token))).status_code == 401
        wrong = await client.post("/api/v1/session", json={"username": "x", "password": "nope"})
        assert wrong.status_code == 401
        assert (await client.get("/api/v1/me", headers=basic("y", "nope"))).status_code == 401
        assert (await _token(client, basic("alice", PASSWORD))).status_code == 429


async def test_a_stale_session_cookie_is_no_failed_login(
    session: AsyncSession, make_client: ClientFactory
) -> None:
    """A browser tab polling with a session that ended is refused, but is no guess: it must not
    get its address (a whole office behind one NAT) throttled."""
    await factories.create_registry(session)
    await factories.create_user(session, username="alice")
    async with make_client(**LIMIT) as client:
        client.cookies.set(SESSION_COOKIE, "ended-or-forged-session")
        for _ in range(5):
            assert (await client.get("/api/v1/me")).status_code == 401
        client.cookies.clear()
        assert (await _token(client, basic("alice", PASSWORD))).status_code == 200
    # The login was counted before its check, and given back when it succeeded.
    assert [row.failures for row in (await session.scalars(select(LoginFailure))).all()] in (
        [],
        [0],
    )


async def test_the_limit_can_be_turned_off(
    session: AsyncSession, make_client: ClientFactory
) -> None:
    await factories.create_registry(session)
    await factories.create_user(session, username="alice")
    async with make_client(login_rate_limit={"enabled": False, "attempts": 1}) as client:
        for name in ("bob", "carol"):
            assert (await _token(client, basic(name, "guess"))).status_code == 401
        assert (await _token(client, basic("alice", PASSWORD))).status_code == 200


async def test_housekeeping_forgets_ended_windows(session: AsyncSession) -> None:
    limit = LoginRateLimitSettings(window=60)
    session.add_all(
        [
            LoginFailure(client="10.0.0.1", window_started_at=utcnow(), failures=5),
            LoginFailure(
                client="10.0.0.2", window_started_at=utcnow() - timedelta(seconds=61), failures=9
            ),
        ]
    )
    await session.flush()
    session.add_all(
        [
            AccountLoginFailure(
                username="alice", client="10.0.0.3", window_started_at=utcnow(), failures=2
            ),
            AccountLoginFailure(
                username="alice",
                client="10.0.0.4",
                window_started_at=utcnow() - timedelta(seconds=61),
                failures=5,
            ),
        ]
    )
    await session.flush()
    assert await throttle.forget_expired(session, limit) == 2
    assert [row.client for row in (await session.scalars(select(LoginFailure))).all()] == [
        "10.0.0.1"
    ]
    kept = (await session.scalars(select(AccountLoginFailure))).all()
    assert [row.client for row in kept] == ["10.0.0.3"]
