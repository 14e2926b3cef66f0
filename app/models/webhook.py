"""Outgoing namespace webhooks, their custom headers, and the outbox of deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, BigIntId, IntEnumType, JsonType, UtcDateTime, utcnow
from app.models.enums import DeliveryStatus, WebhookContentType, WebhookMethod


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(
        ForeignKey("namespaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(2048))
    request_method: Mapped[WebhookMethod] = mapped_column(
        IntEnumType(WebhookMethod), default=WebhookMethod.POST
    )
    content_type: Mapped[WebhookContentType] = mapped_column(
        IntEnumType(WebhookContentType), default=WebhookContentType.json
    )
    username: Mapped[str | None] = mapped_column(String(255))
    # Fernet tokens (app/core/crypto.py): both are needed in plaintext to send.
    password_encrypted: Mapped[str | None] = mapped_column(Text)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # When a sender last took one of its deliveries: the sender serves the webhook that waited
    # longest first (round-robin), so a flooded webhook cannot hold back the others.
    last_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set while one of its deliveries is being sent (the delivery's lease): one request in
    # flight per webhook. Cleared when the answer is recorded; a dead sender's runs out.
    in_flight_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class WebhookHeader(Base):
    __tablename__ = "webhook_headers"
    __table_args__ = (UniqueConstraint("webhook_id", "name"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(String(4096))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to send to one webhook: inserted with the event's effects (an outbox row), then
    claimed, sent and retried by the sender (app/webhooks/sender.py)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        # The sender's "what is due" query.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        # The sender's "oldest due delivery of this webhook" (one probe per webhook).
        Index(
            "ix_webhook_deliveries_webhook_status_due",
            "webhook_id",
            "status",
            "next_attempt_at",
            "id",
        ),
        # Pruning: the delivered (failed) ones older than the retention.
        Index("ix_webhook_deliveries_status_created_at", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    event: Mapped[str] = mapped_column(String(16))  # push | delete
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType)
    status: Mapped[DeliveryStatus] = mapped_column(
        IntEnumType(DeliveryStatus), default=DeliveryStatus.pending
    )
    # Every attempt ever made (attempt rows are numbered by it) / in the current cycle (a
    # re-send starts a new cycle; the cycle's count decides the backoff and when to give up).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cycle_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set while a sender holds the delivery; an expired lease (a sender died) makes it due again.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookAttempt(Base):
    """One HTTP request of a delivery and what came back (bodies truncated)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    request_method: Mapped[str] = mapped_column(String(8))
    request_url: Mapped[str] = mapped_column(Text)
    request_headers: Mapped[dict[str, str]] = mapped_column(JsonType)
    request_body: Mapped[str] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, str] | None] = mapped_column(JsonType)
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
