"""Every query of the webhooks domain (the API's and the sender's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery, WebhookHeader

WEBHOOK_SORT = {
    "id": Webhook.id,
    "name": Webhook.name,
    "created_at": Webhook.created_at,
    "updated_at": Webhook.updated_at,
}
DELIVERY_SORT = {"id": WebhookDelivery.id, "created_at": WebhookDelivery.created_at}


# --- the event processor's hot path ----------------------------------------------------------
async def enabled_webhook_ids(session: AsyncSession, namespace_id: int) -> Sequence[int]:
    statement = select(Webhook.id).where(Webhook.namespace_id == namespace_id, Webhook.enabled)
    return (await session.scalars(statement)).all()


# --- the API ---------------------------------------------------------------------------------
async def page_webhooks(
    session: AsyncSession, namespace_id: int, *, offset: int, limit: int | None, order: list[Any]
) -> tuple[int, Sequence[Webhook]]:
    where = Webhook.namespace_id == namespace_id
    total = await session.scalar(select(func.count(Webhook.id)).where(where))
    statement = select(Webhook).where(where).order_by(*order).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return int(total or 0), (await session.scalars(statement)).all()


async def get_webhook(session: AsyncSession, namespace_id: int, webhook_id: int) -> Webhook | None:
    return await session.scalar(
        select(Webhook).where(Webhook.id == webhook_id, Webhook.namespace_id == namespace_id)
    )


async def headers_of(session: AsyncSession, webhook_id: int) -> Sequence[WebhookHeader]:
    statement = (
        select(WebhookHeader)
        .where(WebhookHeader.webhook_id == webhook_id)
        .order_by(WebhookHeader.id)
    )
    return (await session.scalars(statement)).all()


async def header_name_taken(session: AsyncSession, webhook_id: int, name: str) -> bool:
    """HTTP header names are case-insensitive: `X-A` and `x-a` are the same header."""
    statement = select(WebhookHeader.id).where(
        WebhookHeader.webhook_id == webhook_id, func.lower(WebhookHeader.name) == name.lower()
    )
    return await session.scalar(statement) is not None


async def get_header(
    session: AsyncSession, webhook_id: int, header_id: int
) -> WebhookHeader | None:
    return await session.scalar(
        select(WebhookHeader).where(
            WebhookHeader.id == header_id, WebhookHeader.webhook_id == webhook_id
        )
    )


async def page_deliveries(
    session: AsyncSession, webhook_id: int, *, offset: int, limit: int | None, order: list[Any]
) -> tuple[int, Sequence[WebhookDelivery]]:
    where = WebhookDelivery.webhook_id == webhook_id
    total = await session.scalar(select(func.count(WebhookDelivery.id)).where(where))
    statement = select(WebhookDelivery).where(where).order_by(*order).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return int(total or 0), (await session.scalars(statement)).all()


async def get_delivery(
    session: AsyncSession, webhook_id: int, delivery_id: int
) -> WebhookDelivery | None:
    return await session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.webhook_id == webhook_id
        )
    )


async def attempts_of(session: AsyncSession, delivery_id: int) -> Sequence[WebhookAttempt]:
    statement = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number)
    )
    return (await session.scalars(statement)).all()


# --- the sender ------------------------------------------------------------------------------
def _due(now: datetime) -> Any:
    """Pending, of an enabled webhook, due, and not held by a live lease."""
    return and_(
        WebhookDelivery.status == DeliveryStatus.pending,
        WebhookDelivery.next_attempt_at <= now,
        or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
        Webhook.enabled,
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Lease up to `limit` due deliveries. On PostgreSQL the rows stay locked until the claim
    commits and other senders skip them; SQLite has one writer at a time anyway."""
    statement = (
        select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(_due(now))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(of=WebhookDelivery, skip_locked=True)
    rows = [(delivery, webhook) for delivery, webhook in (await session.execute(statement)).all()]
    if rows:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([delivery.id for delivery, _ in rows]))
            .values(lease_until=lease_until)
        )
    return rows


async def headers_by_webhook(
    session: AsyncSession, webhook_ids: set[int]
) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {webhook_id: [] for webhook_id in webhook_ids}
    statement = (
        select(WebhookHeader.webhook_id, WebhookHeader.name, WebhookHeader.value)
        .where(WebhookHeader.webhook_id.in_(webhook_ids))
        .order_by(WebhookHeader.id)
    )
    for webhook_id, name, value in (await session.execute(statement)).all():
        found[webhook_id].append((name, value))
    return found


async def next_due_at(session: AsyncSession) -> datetime | None:
    """When the earliest pending delivery of an enabled webhook becomes due (its lease counts)."""
    statement = (
        select(
            func.min(func.coalesce(WebhookDelivery.lease_until, WebhookDelivery.next_attempt_at))
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == DeliveryStatus.pending, Webhook.enabled)
    )
    value = await session.scalar(statement)
    return value if isinstance(value, datetime) else None
