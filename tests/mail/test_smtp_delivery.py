"""The sender against a real SMTP server (aiosmtpd) in each mode Portus's settings describe:
plain, STARTTLS and implicit TLS, with and without AUTH; certificates made by a test CA."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import EmailSettings, Settings
from app.core.db import utcnow
from app.core.security import TokenDigester
from app.jobs.context import TaskContext
from app.mail import outbox, templates
from app.mail.sender import send_due_mail
from app.models import MailMessage, MailStatus
from tests.conftest import ClientFactory, make_settings
from tests.fixtures import factories
from tests.support.auth import admin_headers
from tests.support.smtp import Mode, Pki, make_pki, reset_link, smtp_server
from tests.support.tools import free_port

PUBLIC_URL = "https://portus.example.org"
SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-secret-Xy7"
NEW_PASSWORD = "reset by mail 1"

# AUTH over plain SMTP is one of the modes under test; over implicit TLS aiosmtpd cannot tell
# that the connection is encrypted. Either way it warns (in its own thread).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

SenderFactory = Callable[[dict[str, Any]], AbstractAsyncContextManager[TaskContext]]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _email(smtp: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": "registry@example.org",
        "name": "Portus Registry",
        "reply_to": "admins@example.org",
        "smtp": smtp,
    }


@pytest.fixture
def sender(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> SenderFactory:
    """A background context whose settings hold the SMTP password (the API's need not)."""

    @asynccontextmanager
    async def factory(smtp: dict[str, Any]) -> AsyncIterator[TaskContext]:
        base = make_settings(settings, public_url=PUBLIC_URL)
        full = base.model_copy(update={"email": EmailSettings.model_validate(_email(smtp))})
        async with httpx.AsyncClient() as http:
            yield TaskContext(
                settings=full,
                sessionmaker=sessionmaker,
                http=http,
                client_for=lambda registry: pytest.fail("no registry here"),
            )

    return factory


def _api_email(smtp: dict[str, Any]) -> dict[str, Any]:
    return _email({k: v for k, v in smtp.items() if k != "password"})


async def _row(session: AsyncSession) -> MailMessage:
    row = await session.scalar(select(MailMessage).order_by(MailMessage.id.desc()))
    assert row is not None
    await session.refresh(row)
    return row


async def _make_due(session: AsyncSession) -> None:
    await session.execute(update(MailMessage).values(next_attempt_at=utcnow()))


CASES = [
    ("plain", None),
    ("plain", "plain"),
    ("starttls", None),
    ("starttls", "login"),
    ("tls", None),
    ("tls", "cram_md5"),
]


@pytest.mark.parametrize(("mode", "mechanism"), CASES)
async def test_the_reset_mail_arrives_and_its_link_works_once(
    session: AsyncSession,
    make_client: ClientFactory,
    sender: SenderFactory,
    pki: Pki,
    mode: Mode,
    mechanism: str | None,
) -> None:
    credentials = {SMTP_USER: SMTP_PASSWORD} if mechanism else None
    await factories.create_user(session, username="alice", email="alice@example.com")
    with smtp_server(mode, pki, credentials=credentials) as server:
        smtp = server.settings()
        if mechanism:
            smtp |= {"user_name": SMTP_USER, "password": SMTP_PASSWORD}
            smtp["authentication"] = mechanism
        async with make_client(email=_api_email(smtp), public_url=PUBLIC_URL) as client:
            asked = await client.post(
                "/api/v1/users/password_reset", json={"email": "alice@example.com"}
            )
            assert asked.status_code == 202
            async with sender(smtp) as context:
                assert await send_due_mail(context) == "sent 1 mail(s)"
                assert await send_due_mail(context) is None  # nothing left to send
            (mail,) = server.wait_for(1)
            assert mail.rcpt_tos == ["alice@example.com"]
            assert mail.mail_from == "registry@example.org"
            assert mail.message["From"] == "Portus Registry <registry@example.org>"
            assert mail.message["Reply-To"] == "admins@example.org"
            assert mail.message["To"] == "alice@example.com"
            assert mail.message["Subject"] == "Reset your Portus password"
            assert mail.message["Message-ID"].endswith("@portus.example.org>")
            assert mail.ehlo_name == "portus.example.org"
            assert mail.tls is (mode != "plain")
            assert mail.login == (SMTP_USER if mechanism else None)
            link, token = reset_link(mail.part("plain"))
            assert link.startswith(f"{PUBLIC_URL}/password_reset?token=")
            assert f'href="{link}"' in mail.part("html")

            body = {"token": token, "password": NEW_PASSWORD}
            first = await client.put("/api/v1/users/password_reset", json=body)
            assert first.status_code == 204
            second = await client.put(
                "/api/v1/users/password_reset", json=body | {"password": "another one 2"}
            )
            assert second.status_code == 422
            login = await client.post(
                "/api/v1/session", json={"username": "alice", "password": NEW_PASSWORD}
            )
            assert login.status_code == 200
    row = await session.scalar(select(MailMessage).where(MailMessage.kind == "password_reset"))
    assert row is not None
    assert row.status is MailStatus.sent and row.attempts == 1 and row.sent_at is not None
    assert row.text_body == row.html_body == ""  # the link is gone from the database


@pytest.mark.parametrize("mode", ["tls", "starttls"])
async def test_peer_verification_refuses_an_untrusted_certificate_clearly(
    session: AsyncSession,
    make_client: ClientFactory,
    sender: SenderFactory,
    pki: Pki,
    mode: Mode,
    digester: TokenDigester,
) -> None:
    await factories.create_user(session, username="alice", email="alice@example.com")
    admin = await admin_headers(session, digester)
    with smtp_server(mode, pki) as server:
        smtp = server.settings(openssl_verify_mode="peer", ca_file=str(pki.other_ca_file))
        async with make_client(email=_api_email(smtp), public_url=PUBLIC_URL) as client:
            await client.post("/api/v1/users/password_reset", json={"email": "alice@example.com"})
            async with sender(smtp) as context:
                summary = await send_due_mail(context)
            assert summary == "sent 0 mail(s), 1 failed (0 given up)"
            assert server.handler.received == []
            row = await _row(session)
            assert row.status is MailStatus.pending and row.attempts == 1
            assert row.next_attempt_at > utcnow()  # retried later, with back-off
            assert row.last_error is not None
            assert f"certificate of the SMTP server 127.0.0.1:{server.port} is not trusted" in (
                row.last_error
            )
            assert "unable to get local issuer certificate" in row.last_error
            assert "email.smtp.ca_file" in row.last_error
            health = await client.get("/api/v1/health", headers=admin)
            assert health.status_code == 503
            mail = health.json()["mail"]
            assert mail["success"] is False
            assert mail["pending"] == 1
            assert "is not trusted" in mail["msg"]

            # With the CA that signed the server's certificate, the retry goes through.
            trusted = server.settings(openssl_verify_mode="peer", ca_file=str(pki.ca_file))
            await _make_due(session)
            async with sender(trusted) as context:
                assert await send_due_mail(context) == "sent 1 mail(s)"
            assert len(server.wait_for(1)) == 1
            row = await _row(session)
            assert row.status is MailStatus.sent and row.attempts == 2
            healthy = await client.get("/api/v1/health", headers=admin)
            assert healthy.status_code == 200
            assert healthy.json()["mail"]["success"] is True
            assert healthy.json()["mail"]["pending"] == 0


async def test_peer_verification_without_a_ca_file_uses_the_system_store(
    session: AsyncSession, sender: SenderFactory, pki: Pki
) -> None:
    user = await factories.create_user(session, username="alice", email="alice@example.com")
    with smtp_server("tls", pki) as server:
        async with sender(server.settings(openssl_verify_mode="peer")) as context:
            outbox.enqueue(session, context.settings, user.email, _content())
            await session.flush()
            await send_due_mail(context)
    row = await _row(session)
    assert row.last_error is not None
    assert "is not trusted" in row.last_error and "the system's CA store" in row.last_error


def _content() -> templates.MailContent:
    return templates.welcome(username="alice", public_url=PUBLIC_URL)


async def test_a_refused_login_is_recorded_without_the_password(
    session: AsyncSession, sender: SenderFactory, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    user = await factories.create_user(session, username="alice", email="alice@example.com")
    with smtp_server("starttls", pki, credentials={SMTP_USER: SMTP_PASSWORD}) as server:
        smtp = server.settings(user_name=SMTP_USER, password="wrong-Pa55", authentication="plain")
        async with sender(smtp) as context:
            outbox.enqueue(session, context.settings, user.email, _content())
            await session.flush()
            with caplog.at_level(logging.WARNING):
                await send_due_mail(context)
        assert server.handler.received == []
    row = await _row(session)
    assert row.last_error is not None
    assert f"refused the login of '{SMTP_USER}' (plain): 535" in row.last_error
    assert "wrong-Pa55" not in row.last_error
    assert "refused the login" in caplog.text
    assert "wrong-Pa55" not in caplog.text


async def test_gives_up_after_the_last_attempt(
    session: AsyncSession,
    make_client: ClientFactory,
    sender: SenderFactory,
    digester: TokenDigester,
) -> None:
    user = await factories.create_user(session, username="alice", email="alice@example.com")
    nobody = {"enabled": True, "address": "127.0.0.1", "port": free_port()}
    delays: list[float] = []
    async with sender(nobody) as context:
        outbox.enqueue(session, context.settings, user.email, _content())
        await session.flush()
        for attempt in range(1, outbox.MAX_ATTEMPTS + 1):
            before: datetime = utcnow()
            summary = await send_due_mail(context)
            given_up = int(attempt == outbox.MAX_ATTEMPTS)
            assert summary == f"sent 0 mail(s), 1 failed ({given_up} given up)"
            row = await _row(session)
            assert row.attempts == attempt
            delays.append((row.next_attempt_at - before).total_seconds())
            await _make_due(session)
    assert row.status is MailStatus.failed
    assert row.text_body == row.html_body == ""
    assert row.last_error is not None and "cannot connect to the SMTP server" in row.last_error
    # Exponential back-off between attempts (30 s, 60 s, 120 s, ...; at most an hour).
    assert [round(d / 30) * 30 for d in delays[:4]] == [30, 60, 120, 240]
    assert max(delays[:-1]) <= 3600
    admin = await admin_headers(session, digester)
    async with make_client(email=_api_email(nobody)) as client:
        mail = (await client.get("/api/v1/health", headers=admin)).json()["mail"]
    assert mail["failed"] == 1 and mail["pending"] == 0 and mail["success"] is False
