"""The mail outbox: enqueueing, claiming and recording (the queries are in `repository`).

A mail is a row inserted in the caller's transaction, so it exists if and only if the change it
tells about was committed. The sender claims due rows in a short transaction (`FOR UPDATE SKIP
LOCKED` on PostgreSQL, and the claim pushes `next_attempt_at` forward as a lease), sends with no
transaction open, then records each result in another short transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import utcnow
from app.core.queue import Backoff
from app.mail import repository
from app.mail.templates import MailContent
from app.models import MailMessage, MailStatus

BATCH_SIZE = 20
MAX_ATTEMPTS = 8
RETRY = Backoff(first=30, cap=3600)
# How long a claimed row stays away from other senders: longer than a batch can take.
LEASE = timedelta(minutes=15)
MAX_ERROR_LENGTH = 2000


def mail_enabled(settings: Settings) -> bool:
    return settings.email.smtp.enabled


def enqueue(
    session: AsyncSession, settings: Settings, recipient: str | None, content: MailContent
) -> MailMessage | None:
    """Adds the mail to the caller's transaction; nothing when mail is off or there is no
    address to write to."""
    if not mail_enabled(settings) or not recipient:
        return None
    message = MailMessage(
        kind=content.kind,
        recipient=recipient,
        subject=content.subject,
        text_body=content.text,
        html_body=content.html,
        status=MailStatus.pending,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message


@dataclass(frozen=True)
class ClaimedMail:
    id: int
    recipient: str
    subject: str
    text_body: str
    html_body: str
    attempts: int  # including the one now being made


async def claim_due(session: AsyncSession, *, limit: int = BATCH_SIZE) -> list[ClaimedMail]:
    now = utcnow()
    rows = await repository.claim_due(session, now=now, lease_until=now + LEASE, limit=limit)
    return [ClaimedMail(**row._asdict()) for row in rows]


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failed attempt, doubling, at most an hour."""
    return RETRY.delay(attempts)


def _finish(row: MailMessage, status: MailStatus) -> None:
    row.status = status
    # The bodies may hold a password-reset link: they go once the row is final.
    row.text_body = ""
    row.html_body = ""


async def record_sent(session: AsyncSession, mail_id: int) -> None:
    row = await repository.get_mail(session, mail_id)
    if row is None:
        return
    row.sent_at = utcnow()
    row.last_error = None
    _finish(row, MailStatus.sent)
    await session.flush()


async def record_failure(session: AsyncSession, mail_id: int, error: str) -> bool:
    """Keeps the error; returns whether the mail was given up (no attempt left)."""
    row = await repository.get_mail(session, mail_id)
    if row is None:
        return False
    row.last_error = error[:MAX_ERROR_LENGTH]
    given_up = row.attempts >= MAX_ATTEMPTS
    if given_up:
        _finish(row, MailStatus.failed)
    else:
        row.next_attempt_at = utcnow() + retry_delay(row.attempts)
    await session.flush()
    return given_up


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def status(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """The health component: counts, and whether the last attempt (by any process) failed."""
    counts = await repository.count_by_status(session)
    pending = int(counts.get(MailStatus.pending, 0))
    failed = int(counts.get(MailStatus.failed, 0))
    oldest = await repository.oldest_pending_created_at(session)
    last = await repository.last_attempt(session)
    last_error = last.last_error if last is not None else None
    if not mail_enabled(settings):
        msg = "mail is off (email.smtp.enabled is false)"
    elif last_error:
        msg = f"the last mail could not be sent: {last_error}"
    else:
        msg = "mail is being sent"
    return {
        "msg": msg,
        "success": not (mail_enabled(settings) and last_error),
        "pending": pending,
        "failed": failed,
        "oldest_pending_created_at": _iso(oldest),
        "last_attempt_at": _iso(last.last_attempt_at if last is not None else None),
        "last_error": last_error,
    }


async def pending_for(session: AsyncSession, recipient: str) -> Sequence[MailMessage]:
    """The mails waiting for an address (tests and support)."""
    return await repository.pending_for(session, recipient)
