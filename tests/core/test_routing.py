"""`app.core.routing`: a request served from the route index gets what the ordinary routing
would have given it (status, headers, body, and what the scope tells the middlewares: route,
root path, app, path parameters), and the hot paths are served from the index."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from app.core import routing
from app.core.config import Settings
from app.core.routing import IndexedRouting, RouteIndex
from app.core.security import TokenDigester
from app.main import create_app
from tests.conftest import make_settings
from tests.support.auth import admin_headers
from tests.support.ui import serving, write_fixture_ui

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# What the scope tells the middlewares (the request middleware's route label reads the first
# two) and the endpoints.
SCOPE_KEYS = ("route", "root_path", "app", "router", "endpoint", "path_params", "app_root_path")


def _paths(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in, a variant with a trailing slash, and
    paths no route has."""
    found = {"/nope", "/api", "/api/", "/api/v1", "/api/v1/nope", "/api/v1/users/1/nope"}
    found |= {"/", "/namespaces/3", "/assets/index-4f2a9c1b.js", "/assets/missing.js"}
    found |= {"/api/docs", "/api/openapi.json", "/v2/openapi.json", "/v2/token/x"}
    for route in app.routes:
        mounted = route.app if isinstance(route, Mount) else None
        routes = mounted.routes if isinstance(mounted, FastAPI) else [route]
        prefix = route.path if isinstance(route, Mount) else ""
        for child in routes:
            if isinstance(child, APIRoute):
                path = prefix + child.path
                for name in child.param_convertors:
                    path = path.replace("{" + name + "}", "1")
                found |= {path, path + "/"}
    return sorted(found)


class Spy:
    """The app, keeping the scope each request leaves behind."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http":
                self.scopes.append({key: scope.get(key) for key in SCOPE_KEYS})


@asynccontextmanager
async def _client(app: FastAPI, spy: Spy) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        spy.app = manager.app
        transport = httpx.ASGITransport(app=spy)
        async with httpx.AsyncClient(transport=transport, base_url="http://portus.test") as client:
            yield client


def _unindexed(app: FastAPI) -> FastAPI:
    assert isinstance(app.router.middleware_stack, IndexedRouting)
    app.router.middleware_stack = app.router.app
    return app


def _comparable(value: Any, app: FastAPI) -> Any:
    """Apps and routers by their place (the two apps are two instances of the same tree)."""
    if value is app:
        return "root app"
    if value is app.router:
        return "root router"
    for route in app.routes:
        if isinstance(route, Mount) and value is route.app:
            return f"app at {route.path}"
    if isinstance(value, APIRoute):
        return ("route", value.path, tuple(sorted(value.methods or ())))
    if callable(value) and hasattr(value, "__qualname__"):
        return value.__qualname__
    return value


@pytest.mark.parametrize(("metrics", "ui"), [(False, False), (True, True)])
async def test_indexed_answers_are_the_ordinary_ones(
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    digester: TokenDigester,
    tmp_path: Path,
    metrics: bool,
    ui: bool,
) -> None:
    overrides: dict[str, Any] = {"metrics": {"enabled": True, "token": "t" * 32}} if metrics else {}
    if ui:
        overrides["ui"] = serving(write_fixture_ui(tmp_path / "dist"))
    configured = make_settings(settings, **overrides)
    indexed = create_app(configured, sessionmaker=sessionmaker, run_background=False)
    ordinary = _unindexed(create_app(configured, sessionmaker=sessionmaker, run_background=False))
    admin = await admin_headers(session, digester)
    await session.commit()
    spies = Spy(indexed), Spy(ordinary)
    answers: list[list[Any]] = [[], []]
    async with _client(indexed, spies[0]) as fast, _client(ordinary, spies[1]) as slow:
        for path in _paths(indexed):
            for method in METHODS:
                for headers in ({}, admin):
                    if method not in ("GET", "HEAD") and headers:
                        continue  # no changes: both apps share the database
                    for i, client in enumerate((fast, slow)):
                        response = await client.request(method, path, headers=headers)
                        kept = {
                            k: v
                            for k, v in response.headers.items()
                            if k not in ("x-request-id", "date")
                        }
                        answers[i].append((method, path, response.status_code, kept, response.text))
    assert len(answers[0]) > 500
    assert answers[0] == answers[1]
    for fast_scope, slow_scope in zip(spies[0].scopes, spies[1].scopes, strict=True):
        assert {k: _comparable(v, indexed) for k, v in fast_scope.items()} == {
            k: _comparable(v, ordinary) for k, v in slow_scope.items()
        }


def _served(app: FastAPI, method: str, path: str) -> bool:
    index = app.router.middleware_stack
    assert isinstance(index, IndexedRouting)
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": ""}
    for entry in index.index.candidates(path):
        taken = index._dispatch(entry, scope)
        if taken is not False:
            return bool(taken)
    return False


@pytest.mark.parametrize("ui", [False, True])
def test_hot_paths_are_served_from_the_index(settings: Settings, tmp_path: Path, ui: bool) -> None:
    if ui:
        settings = make_settings(settings, ui=serving(write_fixture_ui(tmp_path / "dist")))
    app = create_app(settings)
    assert _served(app, "GET", "/v2/token")
    assert _served(app, "POST", "/v2/token")
    assert _served(app, "POST", "/v2/webhooks/events")
    assert _served(app, "GET", "/api/v1/_ping")
    assert _served(app, "GET", "/api/v1/me")
    assert _served(app, "GET", "/api/v1/namespaces/3/webhooks/4/deliveries/5")
    # Left to the ordinary routing: unknown paths, wrong methods, the documentation.
    assert not _served(app, "GET", "/api/v1/nope")
    assert not _served(app, "DELETE", "/api/v1/_ping")
    assert not _served(app, "GET", "/api/v1/_ping/")
    assert not _served(app, "GET", "/api/openapi.json")


def _app(*routes: tuple[str, str], mounts: dict[str, list[str]] | None = None) -> FastAPI:
    app = FastAPI()

    async def endpoint() -> None:
        return None

    for path, name in routes:
        app.add_api_route(path, endpoint, name=name)
    for prefix, paths in (mounts or {}).items():
        child = FastAPI()
        for path in paths:
            child.add_api_route(path, endpoint, name=f"{prefix}{path}")
        app.mount(prefix, child)
    return app


def _names(index: RouteIndex, path: str) -> list[str]:
    return [entry.route.name for entry in index.candidates(path)]


def test_candidates_keep_the_routing_order() -> None:
    app = _app(
        ("/a/b/c", "static"),
        ("/a/b/{x}", "param"),
        ("/{any}/b/c", "everywhere"),
        ("/a/b/c/{y}", "deeper"),
        ("/z", "other"),
    )
    index = routing.install(app)
    # A parameter within the first three segments: a candidate for every path.
    assert _names(index, "/a/b/c") == ["static", "param", "everywhere", "deeper"]
    assert _names(index, "/a/b/c/9") == ["param", "everywhere", "deeper"]
    assert _names(index, "/a/b/7") == ["param", "everywhere"]
    assert _names(index, "/z") == ["param", "everywhere", "other"]


def test_a_mount_shadows_later_routes_and_an_opaque_one_ends_the_index() -> None:
    app = _app(("/api/x", "before"), mounts={"/api": ["/y"]})
    app.add_api_route("/api/z", lambda: None, name="after")
    app.mount("/static", FastAPI(middleware=[]), name="opaque")
    opaque = app.routes[-1]
    assert isinstance(opaque, Mount)
    opaque.app = APIRouter()  # not a FastAPI app: anything could be behind it
    app.add_api_route("/last", lambda: None, name="last")
    index = routing.install(app)
    assert _names(index, "/api/z") == ["after"]
    after = index.candidates("/api/z")[0]
    assert [mount.path for mount in after.shadowed_by] == ["/api"]
    assert _served(app, "GET", "/api/x")
    assert _served(app, "GET", "/api/y")
    assert not _served(app, "GET", "/api/z")  # the mount takes it: a 404 of the mounted app
    assert _names(index, "/last") == []
