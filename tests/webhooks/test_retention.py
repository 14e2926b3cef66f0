"""Old deliveries and their attempt logs are deleted after the configured retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import utcnow
from app.jobs.context import TaskContext
from app.jobs.runner import periodic_tasks
from app.models import DeliveryStatus, Webhook, WebhookAttempt, WebhookDelivery
from app.webhooks import retention
from tests.conftest import make_settings
from tests.fixtures import factories


@pytest.fixture
def context(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> TaskContext:
    kept = make_settings(settings, webhooks={"keep_delivered_days": 30, "keep_failed_days": 90})
    return TaskContext(kept, sessionmaker, None, None)  # type: ignore[arg-type]


async def add(session: AsyncSession, webhook: Webhook, status: DeliveryStatus, days: int) -> int:
    created = utcnow() - timedelta(days=days)
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        uuid=f"{status.name}-{days}",
        event="push",
        payload={},
        status=status,
        created_at=created,
        next_attempt_at=None if status is not DeliveryStatus.pending else created,
    )
    session.add(delivery)
    await session.flush()
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=1,
            request_method="POST",
            request_url="http://x/",
            request_headers={},
            request_body="{}",
            duration_ms=1,
            created_at=created,
        )
    )
    await session.flush()
    return delivery.id


async def test_delivered_and_failed_ones_go_after_their_retention(
    session: AsyncSession, context: TaskContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "CHUNK", 2)  # several transactions
    registry = await factories.create_registry(session)
    namespace = await factories.create_namespace(session, registry)
    webhook = Webhook(namespace_id=namespace.id, name="w", url="http://x/", secret_encrypted="-")
    session.add(webhook)
    await session.flush()
    kept = [
        await add(session, webhook, DeliveryStatus.delivered, 29),
        await add(session, webhook, DeliveryStatus.failed, 31),
        await add(session, webhook, DeliveryStatus.failed, 89),
        await add(session, webhook, DeliveryStatus.pending, 400),  # still to be sent
    ]
    for days in (31, 40, 50, 365):
        await add(session, webhook, DeliveryStatus.delivered, days)
    await add(session, webhook, DeliveryStatus.failed, 91)
    await session.commit()

    summary = await retention.prune_deliveries(context)

    assert summary == "deleted 5 old webhook deliveries"
    left = list(await session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
    assert left == kept
    attempts = await session.scalar(select(func.count(WebhookAttempt.id)))
    assert attempts == len(kept)  # the attempt logs went with their deliveries
    assert await retention.prune_deliveries(context) is None


def test_it_runs_in_the_background(settings: Settings) -> None:
    context = TaskContext(settings, None, None, None)  # type: ignore[arg-type]
    [task] = [task for task in periodic_tasks(context) if task.name == "webhook_retention"]
    assert task.run is retention.prune_deliveries
