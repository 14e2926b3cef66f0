"""Every query on `mail_outbox`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import queue
from app.models import MailMessage, MailStatus


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> Sequence[Row[int, str, str, str, str, int]]:
    """The oldest due mails, up to `limit`, claimed: one more attempt each, and their next
    attempt pushed to `lease_until`, which is the claim's lease (a sender that dies mid-send
    leaves them to be retried once it is over). Their (id, recipient, subject, text_body,
    html_body, attempts) with the attempt now being made counted."""
    statement = (
        select(
            MailMessage.id,
            MailMessage.recipient,
            MailMessage.subject,
            MailMessage.text_body,
            MailMessage.html_body,
            (MailMessage.attempts + 1).label("attempts"),
        )
        .where(MailMessage.status == MailStatus.pending, MailMessage.next_attempt_at <= now)
        .order_by(MailMessage.next_attempt_at, MailMessage.id)
        .limit(limit)
    )
    rows = (await session.execute(queue.for_claim(statement, session))).all()
    if rows:
        await session.execute(
            queue.take_lease(
                MailMessage,
                MailMessage.id.in_([row.id for row in rows]),
                MailMessage.next_attempt_at,
                lease_until,
                attempts=MailMessage.attempts + 1,
                last_attempt_at=now,
            )
        )
    return rows


async def get_mail(session: AsyncSession, mail_id: int) -> MailMessage | None:
    return await session.get(MailMessage, mail_id)


async def count_by_status(session: AsyncSession) -> dict[MailStatus, int]:
    rows = await session.execute(
        select(MailMessage.status, func.count(MailMessage.id)).group_by(MailMessage.status)
    )
    return {status: int(count) for status, count in rows}


async def oldest_pending_created_at(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(MailMessage.created_at)).where(MailMessage.status == MailStatus.pending)
    )


async def last_attempt(session: AsyncSession) -> Row[datetime | None, str | None] | None:
    """(last_attempt_at, last_error) of the mail attempted last, by any process."""
    return (
        await session.execute(
            select(MailMessage.last_attempt_at, MailMessage.last_error)
            .where(MailMessage.last_attempt_at.is_not(None))
            .order_by(MailMessage.last_attempt_at.desc(), MailMessage.id.desc())
            .limit(1)
        )
    ).first()


async def pending_for(session: AsyncSession, recipient: str) -> Sequence[MailMessage]:
    statement = (
        select(MailMessage)
        .where(MailMessage.recipient == recipient, MailMessage.status == MailStatus.pending)
        .order_by(MailMessage.id)
    )
    return (await session.scalars(statement)).all()
