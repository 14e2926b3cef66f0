"""Concurrent requests against a real server: counters and limits hold, nothing deadlocks."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from app.core.db import create_engine
from app.models import LoginFailure
from tests.e2e.live import LiveServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stack_db: str) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("concurrency")
    # Above the 40-guess burst below: these tests count the account lockout, not the client limit.
    live = LiveServer(
        workdir=workdir,
        database_url=stack_db,
        # Bursts of up to 100 password checks: all admitted to the queue (the queue's own
        # limit is tested in tests/auth/test_password_checks.py).
        extra_env={
            "PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS": "1000",
            "PORTUS_PASSWORD_CHECKS_QUEUE": "200",
        },
    )
    if not stack_db.startswith("sqlite"):
        assert live.portus("migrate").returncode == 0
    live.start()
    with live.client() as client:
        boot = client.post(
            "/api/v1/users/bootstrap",
            json={
                "user": {"username": "admin", "email": "a@example.com", "password": "adminpass1"}
            },
        )
        assert boot.status_code == 201
        live.extra_env["ADMIN_TOKEN"] = boot.json()["plain_token"]
        for name in ("target", "owner"):
            created = client.post(
                "/api/v1/users",
                json={
                    "user": {
                        "username": name,
                        "email": f"{name}@example.com",
                        "password": "rightpass1",
                    }
                },
                headers={"Portus-Auth": f"admin:{boot.json()['plain_token']}"},
            )
            assert created.status_code == 201
    yield live
    live.stop()


async def _burst(server: LiveServer, count: int, **request: object) -> list[int]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        responses = await asyncio.gather(*(client.request(**request) for _ in range(count)))  # type: ignore[arg-type]
    return [r.status_code for r in responses]


async def _guesses(server: LiveServer, count: int) -> list[int]:
    """`count` wrong passwords at once, each for another unknown name (so that only the
    per-address limit applies)."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
        responses = await asyncio.gather(
            *(
                client.get("/v2/token", params={"service": "x"}, auth=(f"nobody{n}", "wrong"))
                for n in range(count)
            )
        )
    return [r.status_code for r in responses]


async def test_parallel_guesses_at_one_account_lock_that_address_out(server: LiveServer) -> None:
    """40 wrong passwords at once from one address (the per-address limit is high here): none
    of the failures is lost, and that address is then locked out of the account (only)."""
    statuses = await _burst(
        server,
        40,
        method="GET",
        url="/v2/token",
        params={"service": "x"},
        auth=("target", "wrong-guess"),
    )
    assert set(statuses) <= {401, 429}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        right = await client.get(
            "/v2/token", params={"service": "x"}, auth=("target", "rightpass1")
        )
    assert right.status_code == 429
    assert "for this account from this address" in right.json()["errors"][0]["message"]


async def test_parallel_failures_all_count_against_the_client(server: LiveServer) -> None:
    """The per-client count is one atomic upsert: 30 parallel failures are 30, not fewer."""
    server.restart(PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS="30")
    engine = create_engine(server.database_url)
    async with engine.begin() as connection:  # a fresh window: the test above failed 40 times
        await connection.execute(delete(LoginFailure))
    await engine.dispose()
    try:
        statuses = await _guesses(server, 30)
        assert statuses == [401] * 30
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            after = await client.get(
                "/v2/token", params={"service": "x"}, auth=("owner", "rightpass1")
            )
        assert after.status_code == 429
        assert int(after.headers["Retry-After"]) > 0
    finally:
        server.restart(PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS="1000")


async def test_parallel_guesses_from_one_address_never_exceed_the_limit(
    server: LiveServer,
) -> None:
    """100 parallel password logins from one address with a limit of 20: each attempt is
    counted (one upsert returning the count) before it is checked, so at most 20 are checked.
    Counting failures after the check let 95 through."""
    server.restart(PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS="20")
    engine = create_engine(server.database_url)
    async with engine.begin() as connection:  # a fresh window
        await connection.execute(delete(LoginFailure))
    await engine.dispose()
    try:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=server.url, timeout=120, limits=limits) as client:
            responses = await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/session", json={"username": f"nobody{n}", "password": "guess"}
                    )
                    for n in range(100)
                )
            )
        statuses = [r.status_code for r in responses]
        assert statuses.count(401) + statuses.count(429) == 100, statuses
        assert statuses.count(401) <= 20
        assert statuses.count(429) >= 80
    finally:
        server.restart(PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS="1000")


async def test_token_limit_holds_under_concurrent_creation(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        me = await client.get(
            "/api/v1/users/owner@example.com",
            headers={"Portus-Auth": f"admin:{server.extra_env['ADMIN_TOKEN']}"},
        )
        user_id = me.json()["id"]
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/users/{user_id}/application_tokens",
                    json={"application": f"t{n}"},
                    auth=("owner", "rightpass1"),
                )
                for n in range(12)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 5
    assert all(s in (201, 422, 409) for s in statuses)


def test_many_failed_logins_do_not_exhaust_the_embedded_database(tmp_path: Path) -> None:
    """On SQLite, more concurrent password failures than pooled connections: all answered 401
    promptly (a held read connection during the password check used to deadlock the pool)."""
    live = LiveServer(
        workdir=tmp_path,
        database_url="",
        extra_env={
            "PORTUS_DATABASE_URL": "",
            "PORTUS_LOGIN_RATE_LIMIT_ATTEMPTS": "1000",
            "PORTUS_PASSWORD_CHECKS_QUEUE": "200",
        },
    )
    live.start()
    try:
        statuses = asyncio.run(_guesses(live, 24))
        assert statuses == [401] * 24
    finally:
        live.stop()
