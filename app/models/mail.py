from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, UtcDateTime, utcnow
from app.models.enums import MailStatus


class MailMessage(Base):
    """A mail in the outbox: inserted in the transaction of the change it tells about, sent by
    the background sender (`app.mail.sender`), retried with back-off.

    `next_attempt_at` is also the claim's lease: the sender pushes it forward when it takes a
    row, so a sender that dies mid-send leaves the row to be retried once the lease is over.
    The bodies are erased once the row is final (sent or given up): a password-reset link must
    not outlive its delivery in the database.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # password_reset, welcome, ...
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(IntEnumType(MailStatus), default=MailStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
