"""A directory that accepts the connection and never answers: logins fail within the timeout,
and the event loop keeps serving everybody else meanwhile."""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import LdapSettings
from app.core.directory import Directory, DirectoryUnavailable
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.ldap.conftest import ldap_config
from tests.support.auth import portus_auth
from tests.support.slapd import USERS, SilentServer, Slapd

TIMEOUT = 1


async def _timed(request: asyncio.Future[httpx.Response]) -> tuple[httpx.Response, float]:
    start = time.monotonic()
    response = await request
    return response, time.monotonic() - start


@pytest.mark.parametrize("path", ["session", "basic", "v2_token"])
async def test_a_hung_directory_fails_logins_in_time_and_blocks_no_request(
    session: AsyncSession,
    digester: object,
    make_client: ClientFactory,
    slapd: Slapd,
    path: str,
) -> None:
    from app.core.security import TokenDigester

    assert isinstance(digester, TokenDigester)
    boss = await factories.create_user(session, username="boss", admin=True)
    token = await factories.create_token(session, digester, boss)
    with SilentServer() as hung:
        # The test's requests share one database connection: the client limit's write after
        # the failed login would race the measured requests on it (never so in a deployment).
        async with make_client(
            ldap=ldap_config(slapd, port=hung.port, timeout=TIMEOUT),
            login_rate_limit={"enabled": False},
        ) as client:
            credentials = {"username": "alice", "password": USERS["alice"][0]}
            # warm up what the measured requests use (first-call costs are not the point)
            assert (await client.get("/api/v1/_ping")).status_code == 200
            warm = await client.get("/api/v1/teams", headers=portus_auth("boss", token))
            assert warm.status_code == 200
            if path == "session":
                request = client.post("/api/v1/session", json=credentials)
            elif path == "basic":
                request = client.get("/api/v1/me", auth=("alice", credentials["password"]))
            else:
                request = client.get(
                    "/v2/token", params={"service": "s"}, auth=("alice", credentials["password"])
                )
            login = asyncio.ensure_future(_timed(asyncio.ensure_future(request)))
            # Wait until the login waits on the directory (its database work is done: the
            # test's requests share one database connection, which takes one user at a time).
            while not hung.accepted and not login.done():
                await asyncio.sleep(0.01)
            latencies: list[float] = []
            while not login.done():
                start = time.monotonic()
                ping = await client.get("/api/v1/_ping")
                # and a request that uses the database and authenticates (application token)
                teams = await client.get("/api/v1/teams", headers=portus_auth("boss", token))
                latencies.append(time.monotonic() - start)
                assert ping.status_code == 200
                assert teams.status_code == 200
                await asyncio.sleep(0.05)
            response, elapsed = await login
    assert hung.accepted >= 1
    assert response.status_code == 401
    assert "LDAP directory cannot be used" in response.text
    assert "timed out" in response.text or "did not answer" in response.text
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + 1, elapsed
    assert len(latencies) >= 5
    # A login blocking the event loop would hold a request for most of the 1 s timeout; a
    # shared, loaded machine adds tens of milliseconds now and then, never that.
    assert max(latencies) < TIMEOUT / 2, latencies
    assert statistics.median(latencies) < 0.1, latencies


async def test_more_hung_logins_than_threads_all_end_in_time(slapd: Slapd) -> None:
    """The directory's pool has 16 threads: 40 logins at once still all end within the
    timeout + 1 s (the ones waiting for a thread run out of time too), and the loop is free."""
    with SilentServer() as hung:
        settings = LdapSettings.model_validate(ldap_config(slapd, port=hung.port, timeout=TIMEOUT))
        directory = Directory(settings)
        try:
            start = time.monotonic()
            results = asyncio.gather(
                *(directory.authenticate(f"user{i}", "pw") for i in range(40)),
                return_exceptions=True,
            )
            ticks = 0
            while not results.done():
                tick = time.monotonic()
                await asyncio.sleep(0.01)
                assert time.monotonic() - tick < TIMEOUT / 2  # a blocked loop: ~TIMEOUT
                ticks += 1
            outcomes = await results
            elapsed = time.monotonic() - start
        finally:
            directory.close()
    assert all(isinstance(outcome, DirectoryUnavailable) for outcome in outcomes), outcomes
    assert elapsed < TIMEOUT + 1, elapsed
    assert ticks > 20
