"""`GET /metrics`: Prometheus exposition, behind a bearer token (`metrics.token`).

Mounted only when `metrics.enabled` (otherwise the path is a 404). The process's counters come
from app.core.metrics; the queues are counted in the database for each scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.auth.dependencies import Public
from app.core import metrics
from app.core.errors import Unauthenticated
from app.core.security import constant_time_equals
from app.core.state import State
from app.metrics import service
from app.metrics.service import QueueFigures

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
        yield _labelled(
            "portus_webhook_deliveries",
            "Webhook deliveries waiting to be sent (pending) or given up (failed)",
            "status",
            f.webhook_deliveries,
        )
        yield _labelled(
            "portus_mail_messages",
            "Mails waiting to be sent (pending) or given up (failed)",
            "status",
            f.mail_messages,
        )
        yield _labelled(
            "portus_task_last_success_timestamp_seconds",
            "When each periodic task last finished without error (Unix time)",
            "task",
            {task: finished.timestamp() for task, finished in f.task_last_success.items()},
        )


def _labelled(name: str, documentation: str, label: str, values: Mapping[str, float]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


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
    figures = await service.queue_figures(state.sessionmaker.kw["bind"])
    extra = CollectorRegistry()
    extra.register(_QueueCollector(figures, datetime.now(UTC)))
    return Response(metrics.render(extra), media_type=metrics.CONTENT_TYPE)
