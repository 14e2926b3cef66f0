"""Password reset through the API: the answer never tells whether an address has an account,
the link works once and for 6 hours, and using it ends every login of the user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.mail import outbox
from app.models import MailMessage, MailStatus, PasswordResetToken
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD
from tests.support.smtp import reset_link

MAIL_ON: dict[str, Any] = {"smtp": {"enabled": True}}
PUBLIC_URL = "https://portus.example.org"
NEW_PASSWORD = "a brand new password"


@pytest.fixture
async def mail_client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(email=MAIL_ON, public_url=PUBLIC_URL) as client:
        yield client


async def _outbox(session: AsyncSession) -> list[MailMessage]:
    return list((await session.scalars(select(MailMessage).order_by(MailMessage.id))).all())


async def _request(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/users/password_reset", json={"email": email})


async def _reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.put(
        "/api/v1/users/password_reset", json={"token": token, "password": password}
    )


async def _token_mailed_to(session: AsyncSession, address: str) -> str:
    mails = await outbox.pending_for(session, address)
    assert [mail.kind for mail in mails] == ["password_reset"]
    link, token = reset_link(mails[0].text_body)
    assert link.startswith(f"{PUBLIC_URL}/password_reset?token=")
    assert link in mails[0].html_body
    return token


async def test_unknown_and_known_addresses_get_the_same_answer(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    known = await _request(mail_client, "Alice@Example.com")  # any case
    unknown = await _request(mail_client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert known.headers.keys() == unknown.headers.keys()
    mails = await _outbox(session)
    assert [(mail.recipient, mail.kind) for mail in mails] == [
        ("alice@example.com", "password_reset")
    ]


async def test_bots_disabled_and_passwordless_accounts_get_no_link(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="robot", email="robot@example.com", bot=True)
    disabled = await factories.create_user(session, username="gone", email="gone@example.com")
    disabled.enabled = False
    directory = await factories.create_user(session, username="ldapu", email="ldap@example.com")
    directory.encrypted_password = None
    await session.flush()
    for address in ("robot@example.com", "gone@example.com", "ldap@example.com"):
        assert (await _request(mail_client, address)).status_code == 202
    assert await _outbox(session) == []
    assert (await session.scalars(select(PasswordResetToken))).all() == []


async def test_the_link_sets_the_password_once_and_ends_every_login(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    docker = await mail_client.get(
        "/v2/token", params={"service": "s", "offline_token": "true"}, auth=("alice", PASSWORD)
    )
    refresh = docker.json()["refresh_token"]
    login = await mail_client.post(
        "/api/v1/session", json={"username": "alice", "password": PASSWORD}
    )
    assert login.status_code == 200
    assert (await _request(mail_client, "alice@example.com")).status_code == 202
    token = await _token_mailed_to(session, "alice@example.com")
    stored = await session.scalar(select(PasswordResetToken))
    assert stored is not None and token not in (stored.lookup, stored.token_digest)

    assert (await _reset(mail_client, token, NEW_PASSWORD)).status_code == 204
    again = await _reset(mail_client, token, "yet another password")
    assert again.status_code == 422
    assert "token" in again.json()["message"]

    # The browser session and docker's identity token are gone; the new password works.
    assert (await mail_client.get("/api/v1/me")).status_code == 401
    refreshed = await mail_client.post(
        "/v2/token", data={"grant_type": "refresh_token", "refresh_token": refresh, "service": "s"}
    )
    assert refreshed.status_code == 401
    old = await mail_client.post(
        "/api/v1/session", json={"username": "alice", "password": PASSWORD}
    )
    assert old.status_code == 401
    new = await mail_client.post(
        "/api/v1/session", json={"username": "alice", "password": NEW_PASSWORD}
    )
    assert new.status_code == 200
    # And alice is told her password changed.
    kinds = [mail.kind for mail in await outbox.pending_for(session, "alice@example.com")]
    assert kinds == ["password_reset", "password_changed"]


async def test_an_expired_link_is_refused(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    await _request(mail_client, "alice@example.com")
    token = await _token_mailed_to(session, "alice@example.com")
    stored = await session.scalar(select(PasswordResetToken))
    assert stored is not None
    assert timedelta(hours=5, minutes=59) < stored.expires_at - utcnow() <= timedelta(hours=6)
    await session.execute(
        update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    refused = await _reset(mail_client, token, NEW_PASSWORD)
    assert refused.status_code == 422
    assert list(refused.json()["message"]) == ["token"]
    assert (
        await mail_client.post("/api/v1/session", json={"username": "alice", "password": PASSWORD})
    ).status_code == 200


async def test_a_new_request_replaces_the_previous_link(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    await _request(mail_client, "alice@example.com")
    first = await _token_mailed_to(session, "alice@example.com")
    await session.execute(update(MailMessage).values(status=MailStatus.sent))
    await _request(mail_client, "alice@example.com")
    second = await _token_mailed_to(session, "alice@example.com")
    assert first != second
    assert (await _reset(mail_client, first, NEW_PASSWORD)).status_code == 422
    assert (await _reset(mail_client, second, NEW_PASSWORD)).status_code == 204


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"token": "prs_aaaaaaaaaaaaaaaa_" + "x" * 43, "password": NEW_PASSWORD}, "token", 422),
        ({"token": "not a token", "password": NEW_PASSWORD}, "token", 422),
        ({"token": "", "password": NEW_PASSWORD}, "token", 422),
        ({"token": "t", "password": "x" * 129}, "password", 422),
        ({"password": NEW_PASSWORD}, "token", 400),  # missing: Portus's 400
    ],
)
async def test_bad_input_is_a_4xx_naming_the_field(
    mail_client: httpx.AsyncClient, body: dict[str, str], field: str, status: int
) -> None:
    response = await mail_client.put("/api/v1/users/password_reset", json=body)
    assert response.status_code == status
    assert field in str(response.json()["message"])


async def test_a_short_password_is_refused_and_keeps_the_link(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    await _request(mail_client, "alice@example.com")
    token = await _token_mailed_to(session, "alice@example.com")
    short = await _reset(mail_client, token, "short")
    assert short.status_code == 422
    assert list(short.json()["message"]) == ["password"]
    assert (await _reset(mail_client, token, NEW_PASSWORD)).status_code == 204


async def test_off_without_mail_or_with_ldap(make_client: ClientFactory) -> None:
    async with make_client() as client:
        without_mail = await _request(client, "alice@example.com")
    assert without_mail.status_code == 405
    assert "email.smtp.enabled" in without_mail.json()["message"]
    async with make_client(email=MAIL_ON, ldap={"enabled": True}) as client:
        assert (await _request(client, "alice@example.com")).status_code == 405
        assert (await _reset(client, "prs_x", NEW_PASSWORD)).status_code == 405
