from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.core.security import TokenDigester
from app.models import RegistryEvent, TaskRun
from tests.fixtures import factories
from tests.support.auth import admin_headers, portus_auth


async def test_ping(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/_ping")
    assert response.status_code == 200


async def test_health_reports_database_and_registry(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    admin = await admin_headers(session, digester)
    healthy = await client.get("/api/v1/health", headers=admin)
    assert healthy.status_code == 200
    assert healthy.json()["database"] == {"msg": "database is up-to-date", "success": True}
    assert healthy.json()["registry"]["msg"] == "no registry configured"
    # A registry nobody answers for: the component fails and the whole answer is 503.
    await factories.create_registry(session, hostname="127.0.0.1:9")
    failing = await client.get("/api/v1/health", headers=admin)
    assert failing.status_code == 503
    assert failing.json()["registry"]["success"] is False


async def test_unknown_api_paths_use_the_portus_envelope(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not found"}
    wrong_method = await client.delete("/api/v1/_ping")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"message": "Method not allowed"}


async def test_openapi_documents_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    assert "/v1/users/bootstrap" in schema["paths"]
    assert "/v1/repositories/{repository_id}/tags" in schema["paths"]
    assert "Portus-Auth" in schema["components"]["securitySchemes"]


async def test_health_shows_every_process_background_tasks(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    admin = await admin_headers(session, digester)
    session.add_all(
        [
            TaskRun(task="gc", worker="a:1", summary="deleted 3 tags", finished_at=utcnow()),
            TaskRun(task="sync", worker="b:2", error="ConnectError: refused", finished_at=utcnow()),
            RegistryEvent(event_id="e1", action="push", repository="a/b", data={}),
        ]
    )
    await session.flush()
    answer = await client.get("/api/v1/health", headers=admin)
    assert answer.status_code == 503  # the last sync pass failed
    background = answer.json()["background"]
    assert background["success"] is False
    assert background["tasks"]["gc"]["summary"] == "deleted 3 tags"
    assert background["tasks"]["gc"]["worker"] == "a:1"
    assert background["tasks"]["sync"]["last_error"] == "ConnectError: refused"
    assert background["tasks"]["registry_events"]["pending"] == 1
    # a later good pass clears it
    session.add(TaskRun(task="sync", worker="a:1", finished_at=utcnow()))
    await session.flush()
    assert (await client.get("/api/v1/health", headers=admin)).status_code == 200


class TestHealthForEveryoneElse:
    """Up or down per component; what failed, where and on which process only for admins."""

    async def _failing_installation(self, session: AsyncSession) -> None:
        await factories.create_registry(session, hostname="127.0.0.1:9")
        session.add(
            TaskRun(
                task="sync",
                worker="build-host-7:4242",
                error="ConnectError: 10.1.2.3 refused",
                finished_at=utcnow(),
            )
        )
        await session.flush()

    async def test_anonymous_sees_up_or_down_only(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        await self._failing_installation(session)
        answer = await client.get("/api/v1/health")
        assert answer.status_code == 503
        assert answer.json() == {
            "database": {"success": True},
            "registry": {"success": False},
            "background": {"success": False},
            "mail": {"success": True},
        }

    async def test_a_user_who_is_no_admin_sees_the_same(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await self._failing_installation(session)
        user = await factories.create_user(session)
        token = await factories.create_token(session, digester, user)
        answer = await client.get("/api/v1/health", headers=portus_auth(user.username, token))
        assert answer.status_code == 503
        assert set(answer.json()["background"]) == {"success"}
        for secret in ("build-host-7", "4242", "10.1.2.3", "127.0.0.1:9", "msg"):
            assert secret not in answer.text

    async def test_an_admin_sees_the_details(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await self._failing_installation(session)
        admin = await admin_headers(session, digester)
        answer = await client.get("/api/v1/health", headers=admin)
        assert answer.status_code == 503
        assert answer.json()["background"]["tasks"]["sync"]["worker"] == "build-host-7:4242"
        assert "127.0.0.1:9" in answer.json()["registry"]["msg"]
