"""A real SMTP server for the mail tests: aiosmtpd in-process, in the three modes Portus's
settings can ask for (plain, STARTTLS, implicit TLS), with or without AUTH, and the
certificates it presents made here by a test CA (`cryptography`)."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import re
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.tls import CertificateAuthority
from tests.support.tools import free_port

Mode = Literal["plain", "starttls", "tls"]


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # the CA that signed the server certificate
    other_ca_file: Path  # a CA that signed nothing the server presents
    cert_file: Path
    key_file: Path


def make_pki(directory: Path) -> Pki:
    """A CA, a server certificate it signs for 127.0.0.1 and localhost, and an unrelated CA."""
    ca = CertificateAuthority("Portus test mail CA")
    issued = ca.issue(directory)
    return Pki(
        ca_file=ca.write(directory / "ca.pem"),
        other_ca_file=CertificateAuthority("Some other CA").write(directory / "other-ca.pem"),
        cert_file=issued.cert_file,
        key_file=issued.key_file,
    )


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    ehlo_name: str | None
    login: str | None  # the AUTH identity, None without AUTH
    tls: bool  # the message travelled over TLS (STARTTLS or implicit)

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        content: str = body.get_content()
        return content


@dataclass
class CapturingHandler:
    """Keeps every message; offers CRAM-MD5 (aiosmtpd only has PLAIN and LOGIN built in)."""

    credentials: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        auth = session.auth_data
        login = auth.login if isinstance(auth, LoginPassword) else None
        with self.lock:
            self.received.append(
                Received(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=list(envelope.rcpt_tos),
                    message=message,
                    ehlo_name=session.host_name,
                    login=login.decode() if isinstance(login, bytes) else login,
                    tls=server.transport is not None
                    and server.transport.get_extra_info("sslcontext") is not None,
                )
            )
        return "250 OK"

    async def auth_CRAM__MD5(self, server: SMTP, args: list[str]) -> AuthResult:
        challenge = f"<{secrets.token_hex(8)}@portus.test>".encode()
        answer = await server.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=True)
        username, _, digest = answer.decode().rpartition(" ")
        password = self.credentials.get(username)
        if password is None:
            return AuthResult(success=False)
        expected = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        if not hmac.compare_digest(expected, digest):
            return AuthResult(success=False)
        return AuthResult(success=True, auth_data=LoginPassword(username.encode(), b""))

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN: `data` is a LoginPassword of bytes."""
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = self.credentials.get(data.login.decode())
        if expected is None or not hmac.compare_digest(expected.encode(), data.password):
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=data)


@dataclass
class SmtpServer:
    mode: Mode
    port: int
    handler: CapturingHandler
    auth: bool

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The `email.smtp` settings that reach this server (verification off by default)."""
        smtp: dict[str, Any] = {
            "enabled": True,
            "address": "127.0.0.1",
            "port": self.port,
            "domain": "portus.example.org",
            "ssl_tls": "ssl" if self.mode == "tls" else "",
            "enable_starttls_auto": self.mode == "starttls",
            "openssl_verify_mode": "none",
        }
        return smtp | overrides

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            with self.handler.lock:
                received = list(self.handler.received)
            if len(received) >= count:
                return received
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(received)} mail(s) arrived, expected {count}")
            time.sleep(0.05)


def _server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    return context


@contextmanager
def smtp_server(
    mode: Mode, pki: Pki, *, credentials: dict[str, str] | None = None
) -> Iterator[SmtpServer]:
    """Started in a thread of its own (aiosmtpd's Controller) on a free port; with
    `credentials`, AUTH is required before MAIL (and, in STARTTLS mode, only after STARTTLS)."""
    handler = CapturingHandler(credentials=dict(credentials or {}))
    kwargs: dict[str, Any] = {}
    if mode == "starttls":
        kwargs["tls_context"] = _server_context(pki)
    elif mode == "tls":
        kwargs["ssl_context"] = _server_context(pki)
    if credentials:
        kwargs["authenticator"] = handler.authenticate
        kwargs["auth_required"] = True
        # Implicit TLS is invisible to aiosmtpd's "require TLS" check: allow AUTH there too.
        kwargs["auth_require_tls"] = mode == "starttls"
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer(mode=mode, port=port, handler=handler, auth=bool(credentials))
    finally:
        controller.stop()


_RESET_LINK = re.compile(r"(https?://\S+/password_reset\?token=([A-Za-z0-9_\-]+))")


def reset_link(text: str) -> tuple[str, str]:
    """The reset link in a mail body and the token in it."""
    found = _RESET_LINK.search(text)
    assert found is not None, f"no reset link in {text!r}"
    return found.group(1), found.group(2)
