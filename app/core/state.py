"""What the lifespan builds once per process, handed to requests as dependencies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import ReadConnection
from app.core.directory import Directory, DirectoryUser
from app.core.keys import SigningKey
from app.core.security import PasswordVerifier, TokenDigester


class DirectoryAccounts(Protocol):
    """The local accounts of directory (LDAP) users. Implemented by the accounts domain and
    wired in by the composition root (`app.main`), so that authentication, below the domains,
    can create one at a first login without importing them."""

    async def provision(
        self, session: AsyncSession, found: DirectoryUser, *, first_user_admin: bool
    ) -> int:
        """Creates or updates (in `session`, flushed) the local user of a directory user who
        has just bound with their password; returns its id. Raises `app.core.errors.Invalid`
        when the directory name cannot be a local user name."""
        ...


# Run by requests as background tasks, after their response: coroutines, so that they run on
# the event loop (a plain function would run in a worker thread, where setting an asyncio.Event
# is not safe) and cost no thread hop.
WakeUp = Callable[[], Awaitable[None]]


async def _nothing_to_wake() -> None:
    return None


@dataclass
class AppState:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    # The sessions of GET requests: no transaction, no writes (app.core.db.get_session).
    read_sessionmaker: async_sessionmaker[AsyncSession]
    signing_key: SigningKey
    digester: TokenDigester
    notifications_secret: str
    http: httpx.AsyncClient
    read_connection: ReadConnection
    directory_accounts: DirectoryAccounts
    # Set by the in-process event worker; a no-op when events are handled elsewhere.
    wake_event_worker: WakeUp = field(default=_nothing_to_wake)
    # Set by the in-process webhook sender; a no-op when deliveries are sent elsewhere.
    wake_webhook_sender: WakeUp = field(default=_nothing_to_wake)
    schema_head: str | None = None
    # This process's background tasks, when it runs them (`background.in_process`).
    background_health: Callable[[], dict[str, Any]] | None = None
    # The LDAP directory when `ldap.enabled`: logins, name checks, health.
    ldap: Directory | None = None
    # Every argon2 check of a login goes through it (`password_checks`).
    passwords: PasswordVerifier = field(default_factory=lambda: PasswordVerifier(0, 32))


# Coroutines, not plain functions: FastAPI runs a plain function dependency in a worker thread,
# a thread hop (tens of microseconds, and the GIL handed back and forth) for an attribute read.
async def get_state(request: Request) -> AppState:
    state: AppState = request.state.app
    return state


async def get_settings(request: Request) -> Settings:
    state: AppState = request.state.app
    return state.settings


State = Annotated[AppState, Depends(get_state)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
