"""Prometheus metrics: one registry per process (prometheus-client).

Counters and histograms are updated where things happen (the request middleware, the token and
login endpoints, the database pool's events). Figures that live in the database (queues,
backlogs, task runs) are read at scrape time instead, by the `/metrics` endpoint (app/metrics),
so that no worker has to keep them up to date.

Several uvicorn workers: with `PROMETHEUS_MULTIPROC_DIR` set in the environment before the
service starts, prometheus-client keeps every process's values in files there, and a scrape of
any worker adds them up (its multiprocess mode). Without it, the figures are this process's.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# This process's metrics (the default registry of prometheus-client is left alone: libraries
# register there, and tests create several apps in one process).
REGISTRY = CollectorRegistry(auto_describe=True)

# The token endpoint answers in a few milliseconds, pages in tens.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

HTTP_REQUESTS = Counter(
    "portus_http_requests",
    "HTTP requests answered, by method, route template and status code",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "portus_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
TOKEN_REQUESTS = Counter(
    "portus_registry_token_requests",
    "/v2/token answers: outcome granted (reason full or partial: some requested action refused) "
    "or refused (reason: bad_credentials, throttled, invalid_request, ...)",
    ["outcome", "reason"],
    registry=REGISTRY,
)
LOGIN_FAILURES = Counter(
    "portus_login_failures",
    "Failed logins (password, application token, refresh token), by entry point",
    ["endpoint"],
    registry=REGISTRY,
)
LOGIN_THROTTLED = Counter(
    "portus_login_throttled",
    "Password logins refused with a 429 by the login rate limit, by entry point",
    ["endpoint"],
    registry=REGISTRY,
)
DB_POOL_IN_USE = Gauge(
    "portus_db_pool_connections_in_use",
    "Database connections checked out of the pool",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_CAPACITY = Gauge(
    "portus_db_pool_capacity",
    "Connections the pool may open (size + overflow)",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIR_VARIABLE))


def render(extra: CollectorRegistry | None = None) -> bytes:
    """The exposition text: this process's metrics (every worker's in multiprocess mode), then
    `extra` (the figures read from the database for this scrape)."""
    if multiprocess():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        output = generate_latest(registry)
    else:
        output = generate_latest(REGISTRY)
    if extra is not None:
        output += generate_latest(extra)
    return output


def process_stopped() -> None:
    """Multiprocess mode: this worker's live gauges (its pool) no longer count once it stops."""
    if multiprocess():
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _checked_out(*_args: Any) -> None:
    DB_POOL_IN_USE.inc()


def _checked_in(*_args: Any) -> None:
    DB_POOL_IN_USE.dec()


def instrument_pool(engine: AsyncEngine) -> None:
    """Count the pool's checked-out connections (once per engine, however many apps use it)."""
    pool = engine.sync_engine.pool
    if event.contains(pool, "checkout", _checked_out):
        return
    event.listen(pool, "checkout", _checked_out)
    event.listen(pool, "checkin", _checked_in)
    size = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if callable(size):
        DB_POOL_CAPACITY.inc(int(size()) + max(0, int(overflow)))
