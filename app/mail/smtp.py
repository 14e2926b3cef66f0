"""Talking SMTP the way Portus's `email.smtp` settings say, with aiosmtplib.

Portus (ActionMailer + the mail gem) maps the keys like this, and so do we:
- `ssl_tls: ssl` or `tls`: implicit TLS from the first byte (SMTPS, usually port 465);
- otherwise a plain connection, upgraded with STARTTLS when `enable_starttls_auto` is true and
  the server offers it;
- `openssl_verify_mode: peer` verifies the server's certificate and host name against `ca_file`
  / `ca_path` (the system's CAs when both are empty); `none` verifies nothing;
- `user_name` non-empty turns AUTH on, with the `authentication` mechanism (plain, login,
  cram_md5) and `password`;
- `domain` is the name given in EHLO; `from`, `name` and `reply_to` make the headers.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

import aiosmtplib

from app.core.config import EmailSettings, SmtpSettings
from app.mail.outbox import ClaimedMail

TIMEOUT_SECONDS = 30.0


class MailConfigError(Exception):
    """The settings cannot work (e.g. an unreadable CA file); the message names the key."""


def _build_tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    if smtp.openssl_verify_mode == "none":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        return ssl.create_default_context(cafile=smtp.ca_file or None, capath=smtp.ca_path or None)
    except (OSError, ssl.SSLError) as exc:
        key = "email.smtp.ca_file" if smtp.ca_file else "email.smtp.ca_path"
        raise MailConfigError(f"{key}: cannot load the CA certificates: {exc}") from exc


async def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    return await asyncio.to_thread(_build_tls_context, smtp)  # reads CA files


def build_message(email: EmailSettings, mail: ClaimedMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((email.name, email.from_)) if email.name else email.from_
    message["To"] = mail.recipient
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=email.smtp.domain or None)
    message.set_content(mail.text_body)
    message.add_alternative(mail.html_body, subtype="html")
    return message


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_error(exc: BaseException, smtp: SmtpSettings) -> str:
    """One line for the outbox row, the log and health. Never holds the password."""
    server = f"{smtp.address}:{smtp.port}"
    for link in _chain(exc):
        if isinstance(link, ssl.SSLCertVerificationError):
            where = smtp.ca_file or smtp.ca_path or "the system's CA store"
            return (
                f"the certificate of the SMTP server {server} is not trusted "
                f"({link.verify_message or link.reason}; checked against {where}): put the "
                "CA that signed it in email.smtp.ca_file (or ca_path), or set "
                "email.smtp.openssl_verify_mode to none"
            )
        if isinstance(link, ssl.SSLError):
            return f"TLS with the SMTP server {server} failed: {link}"
    if isinstance(exc, MailConfigError):
        return str(exc)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return (
            f"the SMTP server {server} refused the login of {smtp.user_name!r} "
            f"({smtp.authentication}): {exc.code} {exc.message}"
        )
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return f"cannot connect to the SMTP server {server}: {exc}"
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"the SMTP server {server} answered {exc.code} {exc.message}"
    return f"{exc.__class__.__name__} talking to the SMTP server {server}: {exc}"


class SmtpConnection:
    """One connection for a batch of mails: `async with SmtpConnection(email) as smtp`."""

    def __init__(self, email: EmailSettings) -> None:
        self.email = email
        self.client: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SmtpConnection:
        smtp = self.email.smtp
        implicit_tls = smtp.ssl_tls in ("ssl", "tls")
        context = await tls_context(smtp) if implicit_tls or smtp.enable_starttls_auto else None
        client = aiosmtplib.SMTP(
            hostname=smtp.address,
            port=smtp.port,
            local_hostname=smtp.domain or None,
            use_tls=implicit_tls,
            # None: STARTTLS when the server offers it (Portus's "auto"); False: never.
            start_tls=None if smtp.enable_starttls_auto and not implicit_tls else False,
            tls_context=context,
            timeout=TIMEOUT_SECONDS,
        )
        await client.connect()
        try:
            if smtp.user_name:
                if client.is_ehlo_or_helo_needed:
                    await client.ehlo()
                password = smtp.password.get_secret_value()
                if smtp.authentication == "plain":
                    await client.auth_plain(smtp.user_name, password)
                elif smtp.authentication == "cram_md5":
                    await client.auth_crammd5(smtp.user_name, password)
                else:
                    await client.auth_login(smtp.user_name, password)
        except BaseException:
            client.close()
            raise
        self.client = client
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()

    async def send(self, mail: ClaimedMail) -> None:
        assert self.client is not None
        if not self.client.is_connected:
            raise aiosmtplib.SMTPServerDisconnected("the SMTP server closed the connection")
        await self.client.send_message(
            build_message(self.email, mail),
            sender=self.email.from_,
            recipients=[mail.recipient],
        )
