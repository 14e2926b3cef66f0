"""Saving a webhook may look its host up (seconds, at worst): meanwhile the request holds no
transaction, so SQLite's write lock and PostgreSQL's locks and connections stay free."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker, session_scope
from app.core.security import TokenDigester
from app.main import create_app
from app.webhooks import service as webhooks
from tests.auth.test_password_checks import (
    _postgres_holds_nothing,
    _sqlite_write_lock_is_free,
    own_database,
)
from tests.conftest import make_settings
from tests.fixtures import factories
from tests.support.auth import admin_headers

__all__ = ["own_database"]  # the fixture, imported for this module's tests


async def test_no_transaction_is_held_while_the_url_is_checked(
    own_database: str,
    settings: Settings,
    digester: TokenDigester,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = create_engine(own_database)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            await factories.create_user(session, username="alice")  # for _postgres_holds_nothing
            headers = await admin_headers(session, digester)
            namespace = await factories.create_namespace(
                session, await factories.create_registry(session)
            )
    finally:
        await engine.dispose()
    looking_up = asyncio.Event()
    answered = asyncio.Event()

    async def slow_lookup(url: str, _settings: object) -> str | None:
        looking_up.set()
        await asyncio.wait_for(answered.wait(), 30)
        return None

    monkeypatch.setattr(webhooks, "url_refusal", slow_lookup)
    app = create_app(make_settings(settings, database_url=own_database), run_background=False)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as client:
            path = f"/api/v1/namespaces/{namespace.id}/webhooks"
            saving = asyncio.create_task(
                client.post(
                    path, json={"name": "ci", "url": "https://ci.example/x"}, headers=headers
                )
            )
            await asyncio.wait_for(looking_up.wait(), 10)
            if own_database.startswith("sqlite"):
                assert await asyncio.to_thread(_sqlite_write_lock_is_free, own_database)
            else:
                assert (await _postgres_holds_nothing(own_database))[0] == 0
            answered.set()
            created = await saving
            assert created.status_code == 201, created.text
            hook = created.json()["id"]
            looking_up.clear()
            answered.clear()
            updating = asyncio.create_task(
                client.put(f"{path}/{hook}", json={"url": "https://ci.example/y"}, headers=headers)
            )
            await asyncio.wait_for(looking_up.wait(), 10)
            if own_database.startswith("sqlite"):
                assert await asyncio.to_thread(_sqlite_write_lock_is_free, own_database)
            else:
                assert (await _postgres_holds_nothing(own_database))[0] == 0
            answered.set()
            updated = await updating
            assert updated.status_code == 200, updated.text
