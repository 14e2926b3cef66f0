"""The mail outbox: every query on `mail_outbox`.

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

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import utcnow
from app.mail.templates import MailContent
from app.models import MailMessage, MailStatus

BATCH_SIZE = 20
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
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
    statement = (
        select(MailMessage)
        .where(MailMessage.status == MailStatus.pending, MailMessage.next_attempt_at <= now)
        .order_by(MailMessage.next_attempt_at, MailMessage.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    claimed = []
    for row in (await session.scalars(statement)).all():
        row.attempts += 1
        row.last_attempt_at = now
        row.next_attempt_at = now + LEASE
        claimed.append(
            ClaimedMail(
                id=row.id,
                recipient=row.recipient,
                subject=row.subject,
                text_body=row.text_body,
                html_body=row.html_body,
                attempts=row.attempts,
            )
        )
    await session.flush()
    return claimed


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failed attempt, doubling, at most an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** max(0, min(attempts - 1, 20))
    return min(LONGEST_RETRY, delay)


def _finish(row: MailMessage, status: MailStatus) -> None:
    row.status = status
    # The bodies may hold a password-reset link: they go once the row is final.
    row.text_body = ""
    row.html_body = ""


async def record_sent(session: AsyncSession, mail_id: int) -> None:
    row = await session.get(MailMessage, mail_id)
    if row is None:
        return
    row.sent_at = utcnow()
    row.last_error = None
    _finish(row, MailStatus.sent)
    await session.flush()


async def record_failure(session: AsyncSession, mail_id: int, error: str) -> bool:
    """Keeps the error; returns whether the mail was given up (no attempt left)."""
    row = await session.get(MailMessage, mail_id)
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
    rows = await session.execute(
        select(MailMessage.status, func.count(MailMessage.id)).group_by(MailMessage.status)
    )
    counts = {row_status: int(count) for row_status, count in rows}
    pending = int(counts.get(MailStatus.pending, 0))
    failed = int(counts.get(MailStatus.failed, 0))
    oldest = await session.scalar(
        select(func.min(MailMessage.created_at)).where(MailMessage.status == MailStatus.pending)
    )
    last = (
        await session.execute(
            select(MailMessage.last_attempt_at, MailMessage.last_error)
            .where(MailMessage.last_attempt_at.is_not(None))
            .order_by(MailMessage.last_attempt_at.desc(), MailMessage.id.desc())
            .limit(1)
        )
    ).first()
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
    statement = (
        select(MailMessage)
        .where(MailMessage.recipient == recipient, MailMessage.status == MailStatus.pending)
        .order_by(MailMessage.id)
    )
    return (await session.scalars(statement)).all()
