from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine
from app.core.security import TokenDigester, set_password_cost
from app.main import create_app
from tests.fixtures.database import throwaway_database

# Tests never read a developer's ./config.yml: point PORTUS_CONFIG at an empty file.
_EMPTY_CONFIG = Path(tempfile.mkdtemp(prefix="portus-config-")) / "config.yml"
_EMPTY_CONFIG.write_text("{}\n")
os.environ["PORTUS_CONFIG"] = str(_EMPTY_CONFIG)
set_password_cost(time_cost=1, memory_cost=1024)

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="session")
def session_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("portus")


@pytest.fixture(scope="session")
async def database_url(session_tmp: Path) -> AsyncIterator[str]:
    async with throwaway_database(session_tmp) as url:
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Every test runs in a transaction rolled back at the end; requests use savepoints in it."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        bind=connection,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
        autoflush=False,
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


def make_settings(base: Settings, **overrides: Any) -> Settings:
    """`base` with nested overrides, e.g. `delete={"enabled": False}`."""
    data = base.model_dump(by_alias=True)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = _deep_merge(data[key], value)
        else:
            data[key] = value
    # SecretStr dumps as "**********": put the real values back (an override's string stays).
    data["secret_key_base"] = base.secret_key_base.get_secret_value()
    data["notifications"] = {"secret": base.notifications.secret.get_secret_value()}
    for path in (("email", "smtp"), ("ldap", "authentication")):
        node = data[path[0]][path[1]]
        if isinstance(node["password"], SecretStr):
            node["password"] = node["password"].get_secret_value()
    return Settings(**_unwrap_oauth_secrets(data))


def _unwrap_oauth_secrets(data: dict[str, Any]) -> dict[str, Any]:
    for provider in data["oauth"].values():
        for key in ("secret", "client_secret"):
            if isinstance(provider.get(key), SecretStr):
                provider[key] = provider[key].get_secret_value()
    return data


def _deep_merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = dict(left)
    for key, value in right.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@pytest.fixture
def settings(session_tmp: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=session_tmp / "data",
        database_url=database_url,
        secret_key_base="test-secret-key-base",
        notifications={"secret": "test-notification-secret"},
        # Not whatever this checkout's frontend/dist holds: the tests of the UI name their own.
        ui={"enabled": False},
    )


@pytest.fixture
def digester(settings: Settings) -> TokenDigester:
    return TokenDigester(settings.secret_key_base.get_secret_value().encode())


@pytest.fixture
def make_client(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> ClientFactory:
    @asynccontextmanager
    async def factory(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(
            make_settings(settings, **overrides), sessionmaker=sessionmaker, run_background=False
        )
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as c:
                yield c

    return factory


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c
