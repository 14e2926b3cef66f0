"""Passwords and application tokens imported from Portus keep working (issue 13).

Portus (Devise) stored `bcrypt(password)` with cost 10 and `$2a$`, and each application token as
`bcrypt(plain, token_salt)`. A login with either works; the password is then rehashed with
argon2id, and the token's digest recorded so that it is found without bcrypt from then on.
"""

from __future__ import annotations

import secrets

import bcrypt
import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import is_legacy_hash
from app.models import ApplicationToken, RefreshToken, User
from tests.auth.test_token_endpoint import token
from tests.fixtures import factories
from tests.support.auth import basic

OLD_PASSWORD = "portus-era password"


def portus_hash(secret: str, rounds: int = 4) -> str:
    """As Devise and Portus made them (`$2a$`); tests use a low cost unless they say."""
    return bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds, prefix=b"2a")).decode()


def portus_token() -> str:
    """A Devise friendly token: 20 URL-safe characters."""
    return secrets.token_urlsafe(15)[:20]


async def user_with_portus_password(session: AsyncSession, username: str, **fields: object) -> User:
    user = await factories.create_user(session, username=username, **fields)
    user.encrypted_password = portus_hash(OLD_PASSWORD, rounds=10)  # Portus's own cost
    await session.flush()
    return user


async def imported_token(session: AsyncSession, user: User, application: str = "jenkins") -> str:
    plain = portus_token()
    session.add(
        ApplicationToken(
            user_id=user.id,
            application=application,
            lookup=secrets.token_hex(8),
            token_digest="",
            legacy_hash=portus_hash(plain),
        )
    )
    await session.flush()
    return plain


async def stored_password(session: AsyncSession, user: User) -> str | None:
    return await session.scalar(select(User.encrypted_password).where(User.id == user.id))


class TestImportedPassword:
    async def test_logs_in_and_is_rehashed_with_argon2(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        alice = await user_with_portus_password(session, "alice")
        assert (await token(client, auth=basic("alice", "wrong"))).status_code == 401
        assert is_legacy_hash(await stored_password(session, alice))

        response = await token(
            client, "repository:alice/app:push", auth=basic("alice", OLD_PASSWORD)
        )
        assert response.status_code == 200

        rehashed = await stored_password(session, alice)
        assert rehashed is not None and rehashed.startswith("$argon2id$")
        # The same password works against the new hash, on the REST API too.
        assert (await token(client, auth=basic("alice", OLD_PASSWORD))).status_code == 200
        me = await client.get("/api/v1/me", headers=basic("alice", OLD_PASSWORD))
        assert me.status_code == 200 and me.json()["username"] == "alice"

    async def test_a_long_password_matches_as_ruby_cut_it(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        """Ruby's bcrypt read the first 72 bytes; the `bcrypt` package refuses longer input."""
        await factories.create_registry(session)
        bob = await factories.create_user(session, username="bob")
        long_password = "x" * 72 + "ignored by bcrypt"
        bob.encrypted_password = portus_hash("x" * 72)
        await session.flush()
        assert (await token(client, auth=basic("bob", long_password))).status_code == 200

    async def test_a_disabled_user_is_refused(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        carol = await user_with_portus_password(session, "carol")
        carol.enabled = False
        await session.flush()
        response = await token(client, auth=basic("carol", OLD_PASSWORD))
        assert response.status_code == 401
        assert "disabled" in response.text


class TestImportedApplicationToken:
    async def test_first_use_by_bcrypt_then_by_digest(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        alice = await user_with_portus_password(session, "alice")
        await imported_token(session, alice, "other")
        plain = await imported_token(session, alice)

        response = await token(client, "repository:alice/app:push", auth=basic("alice", plain))
        assert response.status_code == 200
        row = (
            await session.execute(
                select(ApplicationToken).where(ApplicationToken.application == "jenkins")
            )
        ).scalar_one()
        assert row.token_digest != ""
        # The token, not the password: the password's hash is still Portus's.
        assert is_legacy_hash(await stored_password(session, alice))

        # From now on the digest finds it: with its bcrypt hash spoiled it still logs in...
        await session.execute(
            update(ApplicationToken).where(ApplicationToken.id == row.id).values(legacy_hash="$2a$")
        )
        assert (await token(client, auth=basic("alice", plain))).status_code == 200
        # ...under its owner's name only.
        await factories.create_user(session, username="mallory")
        assert (await token(client, auth=basic("mallory", plain))).status_code == 401

    async def test_a_bot_logs_in_with_its_imported_token(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        bot = await factories.create_user(session, username="ci-bot", bot=True, password=None)
        plain = await imported_token(session, bot)
        response = await token(client, "repository:ci-bot/app:pull", auth=basic("ci-bot", plain))
        assert response.status_code == 200

    async def test_a_docker_login_with_it_is_revoked_with_the_token(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        """The refresh token of a login with an imported token belongs to that token, as with
        our own tokens: deleting the token ends the login."""
        await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        plain = await imported_token(session, alice)
        response = await client.post(
            "/v2/token",
            data={
                "grant_type": "password",
                "username": "alice",
                "password": plain,
                "service": factories.REGISTRY_HOST,
                "client_id": "docker",
                "access_type": "offline",
            },
        )
        assert response.status_code == 200, response.text
        refresh = (await session.execute(select(RefreshToken))).scalar_one()
        imported = (await session.execute(select(ApplicationToken))).scalar_one()
        assert refresh.application_token_id == imported.id

    async def test_a_wrong_token_is_refused_and_counted(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        await imported_token(session, alice)
        assert (await token(client, auth=basic("alice", portus_token()))).status_code == 401
        failed = await session.scalar(select(User.failed_attempts).where(User.id == alice.id))
        assert failed == 1
