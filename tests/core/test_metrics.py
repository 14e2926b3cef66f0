"""`/metrics`: off by default, behind a bearer token, every family present, counters moving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import ConfigError, load_settings
from app.core.db import utcnow
from app.core.middleware import UNMATCHED
from app.core.security import TokenDigester
from app.models import TaskRun
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import portus_auth

TOKEN = "metrics-token-0123456789abcdef"
ENABLED = {"metrics": {"enabled": True, "token": TOKEN}}
AUTH = {"Authorization": f"Bearer {TOKEN}"}

FAMILIES = {
    "portus_http_requests": "counter",
    "portus_http_request_duration_seconds": "histogram",
    "portus_registry_token_requests": "counter",
    "portus_login_failures": "counter",
    "portus_login_throttled": "counter",
    "portus_db_pool_connections_in_use": "gauge",
    "portus_db_pool_capacity": "gauge",
    "portus_registry_events_backlog": "gauge",
    "portus_registry_events_failed": "gauge",
    "portus_registry_events_lag_seconds": "gauge",
    "portus_webhook_deliveries": "gauge",
    "portus_mail_messages": "gauge",
    "portus_task_last_success_timestamp_seconds": "gauge",
}

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> tuple[dict[str, str], Samples]:
    response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    families: dict[str, str] = {}
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        families[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return families, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class TestAccess:
    async def test_off_by_default(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/metrics", headers=AUTH)
        assert response.status_code == 404

    async def test_refused_without_the_token(self, make_client: ClientFactory) -> None:
        async with make_client(**ENABLED) as client:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Basic {TOKEN}"},
                {"Authorization": f"Bearer {TOKEN}x"},
            ):
                response = await client.get("/metrics", headers=headers)
                assert response.status_code == 401
                assert "metrics token" in response.json()["message"]

    def test_enabled_without_a_token_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match=r"metrics\.token"):
            load_settings(metrics={"enabled": True})


class TestScrape:
    async def test_every_family_is_exposed(self, make_client: ClientFactory) -> None:
        async with make_client(**ENABLED) as client:
            families, _ = await scrape(client)
        for name, kind in FAMILIES.items():
            assert families.get(name) == kind, (name, sorted(families))

    async def test_requests_are_counted_per_route_template(
        self, session: AsyncSession, make_client: ClientFactory
    ) -> None:
        async with make_client(**ENABLED) as client:
            _, before = await scrape(client)
            assert (await client.get("/api/v1/_ping")).status_code == 200
            await client.get("/api/v1/teams/987654")
            await client.get("/no/such/path/12345")
            _, after = await scrape(client)
        ping = {"method": "GET", "route": "/api/v1/_ping", "status": "200"}
        assert value(after, "portus_http_requests_total", **ping) == (
            value(before, "portus_http_requests_total", **ping) + 1
        )
        latency = {"method": "GET", "route": "/api/v1/_ping"}
        count = "portus_http_request_duration_seconds_count"
        assert value(after, count, **latency) == value(before, count, **latency) + 1
        routes = {
            dict(labels)["route"] for name, labels in after if name == "portus_http_requests_total"
        }
        # Templates, never raw paths: the label set is bounded by the route table.
        assert "/api/v1/teams/{team_id}" in routes
        assert not any("987654" in route or "12345" in route for route in routes)
        assert UNMATCHED in routes or "/{path}" in routes

    async def test_token_grants_refusals_and_login_failures(
        self, session: AsyncSession, make_client: ClientFactory
    ) -> None:
        await factories.create_registry(session)
        user = await factories.create_user(session, username="metrics-user")
        throttled = ENABLED | {"login_rate_limit": {"attempts": 2, "window": 600}}
        async with make_client(**throttled) as client:
            _, before = await scrape(client)
            # No service: refused as an invalid request.
            assert (await client.get("/v2/token")).status_code == 400
            # Anonymous pull of a missing repository: a token, with the action refused.
            partial = await client.get(
                "/v2/token",
                params={"service": factories.REGISTRY_HOST, "scope": "repository:a/b:pull"},
            )
            assert partial.status_code == 200
            wrong = httpx.BasicAuth(user.username, "wrong password")
            codes = [
                (
                    await client.get(
                        "/v2/token", params={"service": factories.REGISTRY_HOST}, auth=wrong
                    )
                ).status_code
                for _ in range(4)
            ]
            assert 401 in codes and 429 in codes
            api = await client.post(
                "/api/v1/session", json={"username": user.username, "password": "nope"}
            )
            assert api.status_code in (401, 429)
            _, after = await scrape(client)

        def moved(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        tokens = "portus_registry_token_requests_total"
        assert moved(tokens, outcome="refused", reason="invalid_request") == 1
        assert moved(tokens, outcome="granted", reason="partial") == 1
        assert moved(tokens, outcome="refused", reason="bad_credentials") == codes.count(401)
        assert moved(tokens, outcome="refused", reason="throttled") == codes.count(429)
        failures = "portus_login_failures_total"
        assert moved(failures, endpoint="registry_token") == codes.count(401)
        throttles = "portus_login_throttled_total"
        assert moved(throttles, endpoint="registry_token") == codes.count(429)
        api_moves = moved(failures, endpoint="api") + moved(throttles, endpoint="api")
        assert api_moves == 1

    async def test_failed_browser_logins_and_password_changes_count(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        user = await factories.create_user(session, username="metrics-owner")
        token = await factories.create_token(session, digester, user)
        async with make_client(**ENABLED) as client:
            _, before = await scrape(client)
            login = await client.post(
                "/api/v1/session", json={"username": user.username, "password": "nope"}
            )
            assert login.status_code == 401
            change = await client.put(
                "/api/v1/me/password",
                json={"old_password": "nope", "new_password": "brand-new-pass1"},
                headers=portus_auth(user.username, token),
            )
            assert change.status_code == 422
            _, after = await scrape(client)
        failures = "portus_login_failures_total"
        moved = value(after, failures, endpoint="api") - value(before, failures, endpoint="api")
        assert moved == 2

    async def test_queues_and_tasks_are_read_at_scrape_time(
        self, session: AsyncSession, make_client: ClientFactory
    ) -> None:
        finished = utcnow()
        session.add(TaskRun(task="metrics_probe", worker="test:1", finished_at=finished))
        session.add(
            TaskRun(task="metrics_failing", worker="test:1", finished_at=finished, error="x")
        )
        await session.flush()
        async with make_client(**ENABLED) as client:
            _, before = await scrape(client)
            event = {
                "id": "metrics-event-1",
                "timestamp": "2026-11-29T01:38:46Z",
                "action": "push",
                "target": {
                    "repository": "a/b",
                    "tag": "1",
                    "digest": "sha256:aa",
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                },
                "request": {"host": factories.REGISTRY_HOST, "method": "PUT"},
                "actor": {"name": "alice"},
            }
            stored = await client.post(
                "/v2/webhooks/events",
                content=json.dumps({"events": [event]}),
                headers={"Authorization": "Bearer test-notification-secret"},
            )
            assert stored.status_code == 202
            _, after = await scrape(client)
        backlog = "portus_registry_events_backlog"
        assert value(after, backlog) == value(before, backlog) + 1
        assert value(after, "portus_registry_events_lag_seconds") >= 0
        last = value(after, "portus_task_last_success_timestamp_seconds", task="metrics_probe")
        assert abs(last - finished.timestamp()) < 1
        assert (
            "portus_task_last_success_timestamp_seconds",
            frozenset({("task", "metrics_failing")}),
        ) not in after
        assert ("portus_webhook_deliveries", frozenset({("status", "pending")})) in after
        assert ("portus_mail_messages", frozenset({("status", "failed")})) in after


_WORKER = """
import sys
from app.core import metrics
metrics.HTTP_REQUESTS.labels("GET", "/probe", "200").inc(int(sys.argv[1]))
metrics.DB_POOL_IN_USE.inc(int(sys.argv[1]))
sys.stdout.buffer.write(metrics.render())
if sys.argv[2] == "stop":
    metrics.process_stopped()
"""


def test_several_worker_processes_share_one_view(tmp_path: Path) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, a scrape of any worker shows every worker's counts."""
    env = os.environ | {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", _WORKER, str(n), end],
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout.decode()
        for n, end in ((2, "stop"), (5, "keep"))
    ]
    line = 'portus_http_requests_total{method="GET",route="/probe",status="200"} 7.0'
    assert line in outputs[1], outputs[1]
    # The pool of a worker that stopped is no longer counted; its requests still are.
    assert "portus_db_pool_connections_in_use 5.0" in outputs[1], outputs[1]
