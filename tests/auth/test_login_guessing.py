"""Password guessing is throttled without locking the owner out (`app.auth.throttle`):
one address is stopped, many addresses are slowed (a delay that doubles, capped), the owner
with the right password from an address that has not been failing gets in; tokens are never
refused. A wrong old password on `PUT /me/password` counts like a failed login."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import utcnow
from app.core.security import PasswordVerifier, TokenDigester
from app.main import create_app
from app.models import AccountLoginFailure, LoginFailure, User, WebSession
from app.users import service as users_service
from tests.conftest import make_settings
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD, REGISTRY_HOST
from tests.support.auth import login, portus_auth

ClientAt = Callable[[str], httpx.AsyncClient]


@contextlib.asynccontextmanager
async def clients(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, **overrides: Any
) -> AsyncIterator[ClientAt]:
    """One app; `at(address)` is a client whose requests come from `address`."""
    app = create_app(
        make_settings(settings, **overrides), sessionmaker=sessionmaker, run_background=False
    )
    async with LifespanManager(app) as manager, contextlib.AsyncExitStack() as stack:

        def at(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=manager.app, client=(address, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://portus.test")
            stack.push_async_callback(client.aclose)
            return client

        yield at


async def age_account_delay(session: AsyncSession, seconds: float) -> None:
    """As if the account's current delay had started `seconds` earlier."""
    alice = await session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None
    await session.refresh(alice)
    assert alice.locked_at is not None
    alice.locked_at -= timedelta(seconds=seconds)
    await session.flush()


async def account(session: AsyncSession) -> User:
    alice = await session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None
    await session.refresh(alice)
    return alice


class TestOneAddress:
    async def test_is_locked_out_of_the_account_and_the_owner_elsewhere_is_not(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_user(session, username="alice")
        limit = {"attempts": 50, "account_attempts": 5, "delay_after": 100, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            stranger, owner = at("203.0.113.7"), at("198.51.100.20")
            statuses = [(await login(stranger, f"guess{n}")).status_code for n in range(8)]
            assert statuses == [401] * 5 + [429] * 3
            refused = await login(stranger, PASSWORD)  # even the right password, from there
            assert refused.status_code == 429
            assert "for this account from this address" in refused.json()["message"]
            assert 590 < int(refused.headers["Retry-After"]) <= 600
            # The owner, from an address that has not been failing, is not affected.
            assert (await login(owner, PASSWORD)).status_code == 200
            # Other accounts from the stranger's address are still only limited per address.
            assert (await login(stranger, "guess", username="bob")).status_code == 401
            # The lock ends with the window.
            await session.execute(
                update(AccountLoginFailure).values(
                    window_started_at=utcnow() - timedelta(seconds=601)
                )
            )
            assert (await login(stranger, PASSWORD)).status_code == 200

    async def test_a_right_password_clears_the_count_of_its_address(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """Typos by the owner do not add up across successful logins."""
        await factories.create_user(session, username="alice")
        limit = {"account_attempts": 3, "delay_after": 100}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            owner = at("198.51.100.20")
            for _ in range(3):
                assert (await login(owner, "typo")).status_code == 401
                assert (await login(owner, "typo")).status_code == 401
                assert (await login(owner, PASSWORD)).status_code == 200
        rows = (await session.scalars(select(LoginFailure))).all()
        assert [row.failures for row in rows] == [6]  # the six typos; the logins gave theirs back
        assert (await account(session)).failed_attempts == 0


class TestManyAddresses:
    async def test_guessing_is_slowed_by_a_delay_that_doubles_up_to_a_cap(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_user(session, username="alice")
        limit = {"delay_after": 3, "delay_base": 2, "delay_max": 8, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            addresses = (at(f"10.1.0.{n}") for n in range(1, 100))
            for _ in range(3):  # below delay_after: every guess is checked
                assert (await login(next(addresses), "guess")).status_code == 401
            delays = []
            for _ in range(5):
                slowed = await login(next(addresses), "guess")
                assert slowed.status_code == 429
                assert "slowed down" in slowed.json()["message"]
                delays.append(int(slowed.headers["Retry-After"]))
                await age_account_delay(session, delays[-1])  # the delay passes
                assert (await login(next(addresses), "guess")).status_code == 401
            # 2, 4, 8, then capped at 8 (a second may have started meanwhile).
            assert [d for d in delays] in ([2, 4, 8, 8, 8], [1, 4, 8, 8, 8])
            assert (await account(session)).failed_attempts == 8

    async def test_a_count_that_started_over_slows_the_account_down_again(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """Failures older than the window are forgotten, and the next ones count from 1 and
        slow the account down again (the delay must not switch itself off for good)."""
        await factories.create_user(session, username="alice")
        limit = {"delay_after": 2, "delay_base": 30, "delay_max": 60, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            addresses = (at(f"10.3.0.{n}") for n in range(1, 100))
            for _ in range(2):
                assert (await login(next(addresses), "guess")).status_code == 401
            assert (await login(next(addresses), "guess")).status_code == 429
            for _ in range(3):  # three rounds of the window running out
                await age_account_delay(session, 601)
                assert (await login(next(addresses), "guess")).status_code == 401
                assert (await account(session)).failed_attempts == 1
                assert (await login(next(addresses), "guess")).status_code == 401
                assert (await account(session)).failed_attempts == 2
                slowed = await login(next(addresses), "guess")
                assert slowed.status_code == 429
                assert "slowed down" in slowed.json()["message"]

    async def test_the_owner_gets_in_while_a_stranger_is_guessing(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        digester: TokenDigester,
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        await factories.create_registry(session)
        secret = await factories.create_token(session, digester, alice)
        limit = {"delay_after": 3, "delay_base": 1, "delay_max": 4, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            for n in range(12):  # a botnet: many addresses, each guess when the delay has passed
                assert (await login(at(f"10.2.0.{n}"), "guess")).status_code == 401
                if (await account(session)).locked_at is not None:
                    await age_account_delay(session, 4)
            assert (await account(session)).failed_attempts == 12
            owner = at("198.51.100.20")
            # The stranger has just guessed again: at worst the owner waits the capped delay
            # (no ten-minute lock for everyone).
            assert (await login(at("10.2.0.99"), "guess")).status_code == 401
            first = await login(owner, PASSWORD)
            if first.status_code == 429:
                assert int(first.headers["Retry-After"]) <= 4
                await age_account_delay(session, 4)
                first = await login(owner, PASSWORD)
            assert first.status_code == 200
            assert (await account(session)).failed_attempts == 0
            # Tokens were never refused by any of it, from any address.
            token = await at("10.2.0.1").get(
                "/v2/token", params={"service": REGISTRY_HOST}, auth=("alice", secret)
            )
            assert token.status_code == 200


class TestKnownAddresses:
    async def test_a_stranger_who_keeps_guessing_cannot_keep_the_owner_out(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """A stranger polling a slowed-down account takes every turn the moment it comes; the
        owner, from an address they logged in from before, is not held back by the delay.
        From any other address the delay still holds, whoever asks."""
        await factories.create_user(session, username="alice")
        limit = {"delay_after": 3, "delay_base": 30, "delay_max": 60, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            home = at("198.51.100.20")
            assert (await login(home, PASSWORD)).status_code == 200  # last week, say
            for n in range(3):
                assert (await login(at(f"10.4.0.{n}"), "guess")).status_code == 401
            for n in range(3, 6):  # the stranger keeps polling: the account is slowed down
                assert (await login(at(f"10.4.0.{n}"), "guess")).status_code == 429
            assert (await login(at("192.0.2.50"), PASSWORD)).status_code == 429  # a new place
            assert (await login(home, PASSWORD)).status_code == 200
            assert (await account(session)).failed_attempts == 0
            # A known address that guesses is still locked out of the account by its own count.
            for n in range(5):
                assert (await login(home, f"guess{n}")).status_code == 401
            assert (await login(home, PASSWORD)).status_code == 429


class TestChangeDuringTheCheck:
    async def test_a_login_with_the_old_password_does_not_outlive_a_change_made_meanwhile(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """argon2 runs with no row held: the owner may change the password (ending every
        session) while an old-password login is being checked. That login must fail, or its
        new session would be younger than the change and survive it."""
        alice = await factories.create_user(session, username="alice")
        real_verify = PasswordVerifier.verify

        async def verify_then_change(
            self: PasswordVerifier, stored: str | None, given: str
        ) -> bool:
            matched = await real_verify(self, stored, given)
            await users_service.set_password(session, alice, "the-owner-changed-it")
            return matched

        monkeypatch.setattr(PasswordVerifier, "verify", verify_then_change)
        async with clients(sessionmaker, settings) as at:
            refused = await login(at("203.0.113.7"), PASSWORD)
        assert refused.status_code == 401, refused.text
        assert (await session.scalars(select(WebSession))).all() == []


class TestChangePassword:
    async def test_wrong_old_passwords_count_like_failed_logins(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        digester: TokenDigester,
    ) -> None:
        """Whoever holds one of the user's application tokens cannot use the endpoint as an
        unlimited password oracle."""
        alice = await factories.create_user(session, username="alice")
        secret = await factories.create_token(session, digester, alice)
        headers = portus_auth("alice", secret)
        limit = {"attempts": 20, "account_attempts": 4, "delay_after": 100, "window": 600}
        async with clients(sessionmaker, settings, login_rate_limit=limit) as at:
            holder = at("203.0.113.9")

            async def change(old: str) -> httpx.Response:
                return await holder.put(
                    "/api/v1/me/password",
                    json={"old_password": old, "new_password": "brand-new-pass1"},
                    headers=headers,
                )

            for n in range(4):
                wrong = await change(f"guess{n}")
                assert wrong.status_code == 422
                assert wrong.json()["message"] == {"old_password": ["is not your current password"]}
            assert (await account(session)).failed_attempts == 4
            throttled = await change(PASSWORD)
            assert throttled.status_code == 429
            assert "Retry-After" in throttled.headers
            # The same count as logins: a password login from there is refused too.
            assert (await login(holder, PASSWORD)).status_code == 429
            address = await session.get(LoginFailure, "203.0.113.9")
            assert address is not None
            await session.refresh(address)
            assert address.failures == 6
            # The owner elsewhere changes it with the right old password.
            owner = at("198.51.100.20")
            changed = await owner.put(
                "/api/v1/me/password",
                json={"old_password": PASSWORD, "new_password": "brand-new-pass1"},
                headers=headers,
            )
            assert changed.status_code == 204, changed.text
            assert (await account(session)).failed_attempts == 0

    async def test_the_per_address_limit_applies(
        self,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        digester: TokenDigester,
    ) -> None:
        alice = await factories.create_user(session, username="alice")
        secret = await factories.create_token(session, digester, alice)
        async with clients(
            sessionmaker, settings, login_rate_limit={"attempts": 3, "account_attempts": 50}
        ) as at:
            holder = at("203.0.113.9")
            statuses = []
            for n in range(5):
                response = await holder.put(
                    "/api/v1/me/password",
                    json={"old_password": f"guess{n}", "new_password": "brand-new-pass1"},
                    headers=portus_auth("alice", secret),
                )
                statuses.append(response.status_code)
            assert statuses == [422, 422, 422, 429, 429]
