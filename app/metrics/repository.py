"""The figures `/metrics` reads from the database at scrape time: a few indexed counts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import (
    DeliveryStatus,
    EventStatus,
    MailMessage,
    MailStatus,
    RegistryEvent,
    TaskRun,
    WebhookDelivery,
)


@dataclass
class QueueFigures:
    events_backlog: int = 0
    events_failed: int = 0
    oldest_fresh_event_at: datetime | None = None
    webhook_deliveries: dict[str, int] = field(default_factory=dict)  # pending / failed
    mail_messages: dict[str, int] = field(default_factory=dict)  # pending / failed
    task_last_success: dict[str, datetime] = field(default_factory=dict)


async def queue_figures(conn: AsyncConnection) -> QueueFigures:
    figures = QueueFigures()
    backlog, oldest = (
        await conn.execute(
            select(func.count(RegistryEvent.id), func.min(RegistryEvent.received_at)).where(
                RegistryEvent.status == EventStatus.fresh
            )
        )
    ).one()
    figures.events_backlog, figures.oldest_fresh_event_at = int(backlog or 0), oldest
    figures.events_failed = int(
        await conn.scalar(
            select(func.count(RegistryEvent.id)).where(RegistryEvent.status == EventStatus.failed)
        )
        or 0
    )
    # Both queues are counted through their (status, next_attempt_at) index.
    for status in (DeliveryStatus.pending, DeliveryStatus.failed):
        figures.webhook_deliveries[status.name] = int(
            await conn.scalar(
                select(func.count(WebhookDelivery.id)).where(WebhookDelivery.status == status)
            )
            or 0
        )
    for mail_status in (MailStatus.pending, MailStatus.failed):
        figures.mail_messages[mail_status.name] = int(
            await conn.scalar(
                select(func.count(MailMessage.id)).where(MailMessage.status == mail_status)
            )
            or 0
        )
    rows = await conn.execute(
        select(TaskRun.task, func.max(TaskRun.finished_at))
        .where(TaskRun.error.is_(None), TaskRun.finished_at.is_not(None))
        .group_by(TaskRun.task)
    )
    figures.task_last_success = {task: finished for task, finished in rows if finished}
    return figures
