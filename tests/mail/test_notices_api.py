"""Mails enqueued by account changes, in the transaction of the change: a welcome when an
administrator creates a person, notices when a password or an application token changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import MailMessage, MailStatus
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD
from tests.support.auth import admin_headers

PUBLIC_URL = "https://registry.example.org"
MAIL_ON: dict[str, Any] = {"smtp": {"enabled": True}}


@pytest.fixture
async def mail_client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(email=MAIL_ON, public_url=PUBLIC_URL) as client:
        yield client


async def _mails(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.scalars(select(MailMessage).order_by(MailMessage.id))
    return [(row.recipient, row.kind) for row in rows]


async def test_welcome_when_an_admin_creates_a_person_not_a_bot(
    session: AsyncSession, digester: TokenDigester, mail_client: httpx.AsyncClient
) -> None:
    headers = await admin_headers(session, digester, "root")
    person = {"user": {"username": "bob", "email": "bob@example.com", "password": PASSWORD}}
    created = await mail_client.post("/api/v1/users", json=person, headers=headers)
    assert created.status_code == 201
    bot = {"user": {"username": "ci", "email": "ci@example.com", "bot": True}}
    assert (await mail_client.post("/api/v1/users", json=bot, headers=headers)).status_code == 201
    # A refused creation leaves no mail behind: the mail is part of the change's transaction.
    taken = {"user": {"username": "bob2", "email": "bob@example.com", "password": PASSWORD}}
    assert (await mail_client.post("/api/v1/users", json=taken, headers=headers)).status_code == 422
    assert await _mails(session) == [("bob@example.com", "welcome")]
    welcome = await session.scalar(select(MailMessage))
    assert welcome is not None and welcome.status is MailStatus.pending
    assert "bob" in welcome.text_body and f"{PUBLIC_URL}/" in welcome.text_body
    assert '"Forgot your password?"' in welcome.text_body
    assert f'href="{PUBLIC_URL}/"' in welcome.html_body


async def test_no_mail_at_all_when_mail_is_off(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    headers = await admin_headers(session, digester, "root")
    person = {"user": {"username": "bob", "email": "bob@example.com", "password": PASSWORD}}
    assert (await client.post("/api/v1/users", json=person, headers=headers)).status_code == 201
    assert await _mails(session) == []


async def test_notice_when_the_password_changes(
    session: AsyncSession, digester: TokenDigester, mail_client: httpx.AsyncClient
) -> None:
    headers = await admin_headers(session, digester, "root")
    alice = await factories.create_user(session, username="alice", email="alice@example.com")
    # By an administrator.
    updated = await mail_client.put(
        f"/api/v1/users/{alice.id}",
        json={"user": {"password": "set by the admin"}},
        headers=headers,
    )
    assert updated.status_code == 200
    # Not for other changes.
    renamed = await mail_client.put(
        f"/api/v1/users/{alice.id}", json={"user": {"display_name": "Alice"}}, headers=headers
    )
    assert renamed.status_code == 200
    # By herself.
    login = await mail_client.post(
        "/api/v1/session", json={"username": "alice", "password": "set by the admin"}
    )
    changed = await mail_client.put(
        "/api/v1/me/password",
        json={"old_password": "set by the admin", "new_password": "chosen by alice"},
        headers={"X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert changed.status_code == 204
    assert await _mails(session) == [
        ("alice@example.com", "password_changed"),
        ("alice@example.com", "password_changed"),
    ]
    bodies = [row.text_body for row in await session.scalars(select(MailMessage))]
    assert "An administrator changed it." in bodies[0]
    assert "You changed it from your profile." in bodies[1]


async def test_notice_when_an_application_token_is_created_or_revoked(
    session: AsyncSession, mail_client: httpx.AsyncClient
) -> None:
    alice = await factories.create_user(session, username="alice", email="alice@example.com")
    auth = ("alice", PASSWORD)
    created = await mail_client.post(
        f"/api/v1/users/{alice.id}/application_tokens",
        json={"application": "<b>laptop</b>"},
        auth=auth,
    )
    assert created.status_code == 201
    revoked = await mail_client.delete(
        f"/api/v1/users/application_tokens/{created.json()['id']}", auth=auth
    )
    assert revoked.status_code == 204
    assert await _mails(session) == [
        ("alice@example.com", "token_created"),
        ("alice@example.com", "token_revoked"),
    ]
    rows = list(await session.scalars(select(MailMessage).order_by(MailMessage.id)))
    assert '"<b>laptop</b>"' in rows[0].text_body
    assert "&ldquo;&lt;b&gt;laptop&lt;/b&gt;&rdquo;" in rows[0].html_body  # escaped in HTML
    assert "<b>laptop</b>" not in rows[0].html_body
    assert rows[1].subject == "A Portus application token was revoked"
