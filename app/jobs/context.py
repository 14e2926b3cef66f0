"""What a background task needs: settings, the database, HTTP and registry clients.

Built once per process by `portus serve` (in-process tasks), `portus worker`, and the one-shot
commands (`portus sync`, `portus gc`), so every task runs the same code wherever it runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import create_engine, create_sessionmaker
from app.core.keys import load_signing_key
from app.models import Registry
from app.registry.client import RegistryClient, client_factory


@dataclass(frozen=True)
class TaskContext:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    # For the registry and the like, trusted and often on localhost. Webhooks are sent with a
    # client of their own that vets addresses (app.webhooks.client, opened by the sender).
    http: httpx.AsyncClient
    # A client for a stored registry that authenticates as the internal identity.
    client_for: Callable[[Registry], RegistryClient]


@contextlib.asynccontextmanager
async def open_task_context(
    settings: Settings, *, sessionmaker: async_sessionmaker[AsyncSession] | None = None
) -> AsyncIterator[TaskContext]:
    """A context for a process of its own (`portus worker`, `portus gc`, ...)."""
    engine = None
    if sessionmaker is None:
        engine = create_engine(settings.resolved_database_url)
        sessionmaker = create_sessionmaker(engine)
    try:
        async with httpx.AsyncClient(trust_env=False) as http:
            yield TaskContext(
                settings=settings,
                sessionmaker=sessionmaker,
                http=http,
                client_for=client_factory(http, settings, load_signing_key(settings)),
            )
    finally:
        if engine is not None:
            await engine.dispose()
