"""The application: `create_app(settings)` wires the REST API, the registry routes and the UI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from alembic.script import ScriptDirectory
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app import api
from app.auth.errors import TokenRequestError, handle_token_error
from app.core import metrics, routing
from app.core.body_limit import BodyLimitMiddleware, BodyLimits
from app.core.config import Settings
from app.core.db import (
    ReadConnection,
    create_engine,
    create_read_sessionmaker,
    create_sessionmaker,
    open_read_connections,
)
from app.core.directory import Directory, DirectoryUser
from app.core.errors import install_error_handlers
from app.core.files import private_directory
from app.core.instance import instance_secret
from app.core.keys import load_signing_key
from app.core.middleware import RequestMiddleware
from app.core.resources import alembic_config, ui_directory
from app.core.routing import include_routes
from app.core.security import PasswordVerifier, TokenDigester
from app.core.spa import SinglePageApp
from app.core.state import AppState, WakeUp
from app.core.version import VERSION
from app.jobs.context import TaskContext
from app.jobs.runner import BackgroundRunner
from app.ldap import service as ldap_accounts
from app.metrics import endpoints as metrics_endpoints
from app.registry.client import client_factory

logger = logging.getLogger(__name__)


def schema_head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


class LdapAccounts:
    """`app.core.state.DirectoryAccounts` by `app.ldap.service`: authentication (below the
    domains) creates the account of a directory user's first login through it."""

    async def provision(
        self, session: AsyncSession, found: DirectoryUser, *, first_user_admin: bool
    ) -> int:
        user = await ldap_accounts.provision(session, found, first_user_admin=first_user_admin)
        await session.flush()
        return user.id


def on_the_loop(wake: Callable[[], None]) -> WakeUp:
    """`wake` as a coroutine function: run as a background task on the event loop."""

    async def wake_up() -> None:
        wake()

    return wake_up


def build_state(
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    read_connection: ReadConnection,
) -> AppState:
    private_directory(settings.data_dir)
    secret_key = instance_secret(settings.data_dir, "secret_key_base", settings.secret_key_base)
    return AppState(
        settings=settings,
        sessionmaker=sessionmaker,
        read_sessionmaker=create_read_sessionmaker(sessionmaker),
        signing_key=load_signing_key(settings),
        digester=TokenDigester(secret_key.encode()),
        notifications_secret=instance_secret(
            settings.data_dir, "notifications_secret", settings.notifications.secret
        ),
        http=http,
        read_connection=read_connection,
        directory_accounts=LdapAccounts(),
        schema_head=schema_head(),
        ldap=Directory(settings.ldap, first_user_admin=settings.first_user_admin.enabled)
        if settings.ldap.enabled
        else None,
        passwords=PasswordVerifier(
            settings.password_checks.concurrency, settings.password_checks.queue
        ),
    )


def create_app(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    run_background: bool | None = None,
) -> FastAPI:
    """`sessionmaker` lets tests bind every request to their own transaction."""
    background = settings.background.in_process if run_background is None else run_background

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = None
        maker = sessionmaker
        if maker is None:
            engine = create_engine(settings.resolved_database_url)
            maker = create_sessionmaker(engine)
        if settings.metrics.enabled:
            bind = maker.kw["bind"]
            metrics.instrument_pool(bind.engine if isinstance(bind, AsyncConnection) else bind)
        async with (
            httpx.AsyncClient(trust_env=False) as http,
            open_read_connections(maker.kw["bind"]) as read_connection,
        ):
            state = build_state(settings, maker, http, read_connection)
            tasks: list[asyncio.Task[None]] = []
            if background:
                context = TaskContext(
                    settings=settings,
                    sessionmaker=maker,
                    http=http,
                    client_for=client_factory(http, settings, state.signing_key),
                )
                runner = BackgroundRunner.build(context)
                state.wake_event_worker = on_the_loop(runner.wake_event_worker)
                state.wake_webhook_sender = on_the_loop(runner.wake_webhook_sender)
                state.background_health = runner.health
                tasks.append(asyncio.create_task(runner.run(), name="background"))
            try:
                yield {"app": state}
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if state.ldap is not None:
                    state.ldap.close()
                state.passwords.close()
                if engine is not None:
                    await engine.dispose()
                metrics.process_stopped()

    app = FastAPI(
        title="Portus",
        version=VERSION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/v2/openapi.json",
        summary="Registry token service and notification receiver",
    )
    app.add_exception_handler(TokenRequestError, handle_token_error)
    limits = settings.request_limits
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(api=limits.api, events=limits.events))
    install_error_handlers(app)
    # Outermost of the app's own middleware: its id and timing cover the whole request.
    app.add_middleware(RequestMiddleware, record_metrics=settings.metrics.enabled)
    api.include_registry_routes(app)
    if settings.metrics.enabled:
        include_routes(app.router, metrics_endpoints.router)
    app.mount("/api", api.create_api_app())
    if settings.ui.enabled:
        ui = ui_directory(settings.ui.directory)
        if ui is None:
            logger.warning(
                "no built web UI (frontend/dist/index.html): serving the API alone; build it "
                "with `cd frontend && npm ci && npm run build`"
            )
        else:
            # What no route takes: not a route, so routed requests never look at it.
            app.router.default = SinglePageApp(ui, not_found=app.router.default)
    # Last: a request that fully matches a route goes straight to it (app.core.routing).
    routing.install(app)
    return app
