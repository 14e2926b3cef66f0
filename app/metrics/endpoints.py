"""`GET /metrics`: Prometheus exposition, behind a bearer token (`metrics.token`).

Mounted only when `metrics.enabled` (otherwise the path is a 404). The process's counters come
from app.core.metrics; the queues are counted in the database for each scrape.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.auth.dependencies import Public
from app.core import metrics
from app.core.errors import Unauthenticated
from app.core.security import constant_time_equals
from app.core.state import AppState, State
from app.metrics.repository import QueueFigures, queue_figures

router = APIRouter(tags=["metrics"])


class _QueueCollector(Collector):
    """The figures of one scrape, as gauges."""

    def __init__(self, figures: QueueFigures, now: datetime) -> None:
        self.figures = figures
        self.now = now

    def collect(self) -> Iterable[Metric]:
        f = self.figures
        yield GaugeMetricFamily(
            "portus_registry_events_backlog",
            "Registry events stored and not handled yet",
            value=f.events_backlog,
        )
        yield GaugeMetricFamily(
            "portus_registry_events_failed",
            "Registry events given up after their last attempt",
            value=f.events_failed,
        )
        lag = 0.0
        if f.oldest_fresh_event_at is not None:
            lag = max(0.0, (self.now - f.oldest_fresh_event_at).total_seconds())
        yield GaugeMetricFamily(
            "portus_registry_events_lag_seconds",
            "Age of the oldest registry event waiting to be handled (0: none waits)",
            value=lag,
        )
        deliveries = GaugeMetricFamily(
            "portus_webhook_deliveries",
            "Webhook deliveries waiting to be sent (pending) or given up (failed)",
            labels=["status"],
        )
        for status, count in sorted(f.webhook_deliveries.items()):
            deliveries.add_metric([status], count)
        yield deliveries
        mail = GaugeMetricFamily(
            "portus_mail_messages",
            "Mails waiting to be sent (pending) or given up (failed)",
            labels=["status"],
        )
        for status, count in sorted(f.mail_messages.items()):
            mail.add_metric([status], count)
        yield mail
        tasks = GaugeMetricFamily(
            "portus_task_last_success_timestamp_seconds",
            "When each periodic task last finished without error (Unix time)",
            labels=["task"],
        )
        for task, finished in sorted(f.task_last_success.items()):
            tasks.add_metric([task], finished.timestamp())
        yield tasks


@contextlib.asynccontextmanager
async def _autocommit(state: AppState) -> AsyncIterator[AsyncConnection]:
    """A connection outside any transaction (no write lock on SQLite, no snapshot to hold)."""
    bind = state.sessionmaker.kw["bind"]
    if isinstance(bind, AsyncConnection):  # tests: everything on their one connection
        yield bind
        return
    assert isinstance(bind, AsyncEngine)
    async with bind.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        yield conn


@router.get(
    "/metrics",
    dependencies=[Public],  # checked against metrics.token below instead
    response_class=Response,
    responses={
        200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "Prometheus text format"},
        401: {"description": "Missing or wrong bearer token"},
    },
)
async def get_metrics(request: Request, state: State) -> Response:
    """Requires `Authorization: Bearer <metrics.token>`."""
    expected = state.settings.metrics.token.get_secret_value()
    header = request.headers.get("authorization", "")
    if not expected or not constant_time_equals(header, f"Bearer {expected}"):
        raise Unauthenticated("Authentication fails: wrong or missing metrics token")
    async with _autocommit(state) as conn:
        figures = await queue_figures(conn)
    extra = CollectorRegistry()
    extra.register(_QueueCollector(figures, datetime.now(UTC)))
    return Response(metrics.render(extra), media_type=metrics.CONTENT_TYPE)
