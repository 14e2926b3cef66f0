"""Every query of the webhooks domain (the API's and the sender's)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import queue
from app.models import (
    DeliveryStatus,
    Namespace,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookHeader,
)

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


async def insert_deliveries(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """New deliveries (columns by name), in one executemany INSERT."""
    await session.execute(insert(WebhookDelivery), rows)


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
    session: AsyncSession,
    webhook_id: int,
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None,
) -> tuple[int, Sequence[WebhookDelivery]]:
    """`order` None: newest first."""
    where = WebhookDelivery.webhook_id == webhook_id
    total = await session.scalar(select(func.count(WebhookDelivery.id)).where(where))
    order = [WebhookDelivery.id.desc()] if order is None else order
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


async def deliveries_by_id(session: AsyncSession, ids: Sequence[int]) -> Sequence[WebhookDelivery]:
    return (await session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))).all()


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
        queue.lease_free(WebhookDelivery.lease_until, now),
        Webhook.enabled,
    )


def _free(now: datetime) -> Any:
    """Enabled webhooks with no request in flight."""
    return and_(Webhook.enabled, queue.lease_free(Webhook.in_flight_until, now))


def _oldest_pending(now: datetime | None) -> Any:
    """A webhook's oldest pending delivery (due by `now`, if given), correlated to `webhooks`:
    one probe of (webhook_id, status, next_attempt_at, id) whatever the backlog."""
    statement = select(WebhookDelivery.id).where(
        WebhookDelivery.webhook_id == Webhook.id,
        WebhookDelivery.status == DeliveryStatus.pending,
    )
    if now is not None:
        statement = statement.where(WebhookDelivery.next_attempt_at <= now)
    return (
        statement.order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .correlate(Webhook)
        .scalar_subquery()
    )


async def claim_due(
    session: AsyncSession, *, now: datetime, lease_until: datetime, limit: int
) -> list[tuple[WebhookDelivery, Webhook]]:
    """Lease the oldest due delivery of each of up to `limit` webhooks that have none in
    flight, taking the webhooks in turn: the one served longest ago (or never) first.

    So a webhook has one request in flight at a time (its deliveries go out in order), and a
    webhook with a thousand due deliveries gets one turn like any other: another namespace's
    delivery waits for at most one request of each webhook ahead of it, never for the backlog.
    The cost grows with the number of webhooks, not with the backlog.

    On PostgreSQL the rows stay locked until the claim commits and other senders skip them; the
    due conditions are repeated on the locked rows so that a row another sender leased in the
    meantime is re-checked and left out. SQLite has one writer at a time anyway."""
    first = _oldest_pending(now).label("delivery_id")
    candidates = (
        select(first, Webhook.id.label("webhook_id"), Webhook.last_claimed_at)
        .where(_free(now))
        .subquery()
    )
    firsts = (
        select(candidates.c.delivery_id)
        .where(candidates.c.delivery_id.is_not(None))
        .order_by(candidates.c.last_claimed_at.asc().nulls_first(), candidates.c.webhook_id)
        .limit(limit)
    )
    # Two statements: the ids are few, and a planner misled by fresh statistics cannot turn
    # them into a semi-join that probes every webhook once per due delivery.
    ids = list(await session.scalars(firsts))
    if not ids:
        return []
    statement = (
        select(WebhookDelivery, Webhook)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(ids), _due(now))
    )
    statement = queue.for_claim(statement, session, of=WebhookDelivery)
    rows = [(delivery, webhook) for delivery, webhook in (await session.execute(statement)).all()]
    if rows:
        await session.execute(
            queue.take_lease(
                WebhookDelivery,
                WebhookDelivery.id.in_([delivery.id for delivery, _ in rows]),
                WebhookDelivery.lease_until,
                lease_until,
            )
        )
        await session.execute(
            queue.take_lease(
                Webhook,
                Webhook.id.in_([webhook.id for _, webhook in rows]),
                Webhook.in_flight_until,
                lease_until,
                last_claimed_at=now,
                updated_at=Webhook.updated_at,  # a turn is no change of the webhook
            )
        )
    return rows


async def release_webhook(session: AsyncSession, webhook_id: int, lease_until: datetime) -> None:
    """Its request, claimed with `lease_until`, was answered (recorded): its next delivery may
    go. Only while the webhook still holds that lease: if it ran out and another sender claimed
    the webhook since, that sender's request is in flight and the webhook stays busy."""
    await session.execute(
        queue.release_lease(
            Webhook,
            Webhook.id == webhook_id,
            Webhook.in_flight_until,
            lease_until,
            updated_at=Webhook.updated_at,
        )
    )


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


async def next_due_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When a sender may next find something to claim: the earliest next attempt of a webhook
    with nothing in flight, or the earliest end of a request in flight (a sender that died)."""
    oldest = (
        select(WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.id == _oldest_pending(None))
        .scalar_subquery()
    )
    free = await session.scalar(select(func.min(oldest)).where(_free(now)))
    in_flight_ends = await session.scalar(
        select(func.min(Webhook.in_flight_until)).where(
            Webhook.enabled, Webhook.in_flight_until > now
        )
    )
    times = [value for value in (free, in_flight_ends) if isinstance(value, datetime)]
    return min(times) if times else None


async def delete_old_deliveries(
    session: AsyncSession, status: DeliveryStatus, created_before: datetime, *, limit: int
) -> int:
    """Up to `limit` deliveries in `status` created before the date; their attempts go with
    them (ON DELETE CASCADE)."""
    oldest = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == status, WebhookDelivery.created_at < created_before)
        .order_by(WebhookDelivery.created_at)
        .limit(limit)
    )
    result = await session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.id.in_(oldest.scalar_subquery()))
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the API's limit ---------------------------------------------------------------------------
async def count_webhooks_locked(session: AsyncSession, namespace_id: int) -> int:
    """The namespace's webhooks, counted with the namespace row locked (PostgreSQL) so that two
    creations at once cannot both pass the limit; SQLite's write transactions are serial."""
    if queue.is_postgresql(session):
        await session.execute(
            select(Namespace.id).where(Namespace.id == namespace_id).with_for_update()
        )
    total = await session.scalar(
        select(func.count(Webhook.id)).where(Webhook.namespace_id == namespace_id)
    )
    return int(total or 0)
