"""Deleting old deliveries: without it they and their attempt logs (bodies of up to 16 KiB per
request) grow for as long as pushes happen."""

from __future__ import annotations

from datetime import timedelta

from app.core.db import session_scope, utcnow
from app.core.jobs import JobContext
from app.models import DeliveryStatus
from app.webhooks import repository

# Rows per transaction: short write transactions, so that SQLite's other writers never wait
# long for a pass that has a year of deliveries to delete.
CHUNK = 1000
INTERVAL_SECONDS = 3600.0


async def prune_deliveries(ctx: JobContext) -> str | None:
    """Delivered ones older than `webhooks.keep_delivered_days`, failed ones older than
    `keep_failed_days` (created before; attempts go with them). Pending ones are kept."""
    config = ctx.settings.webhooks
    now = utcnow()
    kept = {
        DeliveryStatus.delivered: config.keep_delivered_days,
        DeliveryStatus.failed: config.keep_failed_days,
    }
    deleted = 0
    for status, days in kept.items():
        before = now - timedelta(days=days)
        while True:
            async with session_scope(ctx.sessionmaker) as session:
                count = await repository.delete_old_deliveries(session, status, before, limit=CHUNK)
            deleted += count
            if count < CHUNK:
                break
    return f"deleted {deleted} old webhook deliveries" if deleted else None
