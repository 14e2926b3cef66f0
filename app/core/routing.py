"""Routing that costs a request its own route, not the whole route table.

Two costs, measured with py-spy on `portus serve`:

- FastAPI >= 0.16x keeps an included router as a branch matched level by level on every
  request, re-deriving a version number of the whole router tree at each level (29 calls of
  `APIRouter._get_routes_version` for one `/api/v1/_ping`). `include_routes` adds a router's
  routes as plain routes instead: what `include_router` used to do.
- Starlette tries every route in turn, and a mounted app runs its own middleware stack (error
  middlewares, exception handlers) inside the root's. `IndexedRouting`, the root router's
  innermost ASGI app, finds the few routes a path can match by its leading segments and calls
  the one that fully matches, as the root router and the mount would have, under the root's
  middleware only. Everything else (404, 405, slash redirects, the mounted apps' documentation,
  and the web UI, which is the root router's default: `app.core.spa`) goes to the ordinary
  routing, unchanged.

Both apps' exception handlers must be the same for the second to change nothing: `install`
checks that a mounted app has no handler the root app lacks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.utils import get_value_or_default
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send


def _no_telemetry(*, scope: Any, path: str | None, mount: bool = False) -> None:
    return None


# FastAPI's native telemetry names the request's route, as its routers call it (a no-op unless
# OpenTelemetry is configured).
_route_selected: Callable[..., None]
try:
    from fastapi.telemetry import _api as _telemetry

    _route_selected = _telemetry._route_selected
except ImportError:  # FastAPI before native telemetry
    _route_selected = _no_telemetry


def include_routes(target: APIRouter, router: APIRouter, prefix: str = "") -> None:
    """`router`'s routes added to `target` under `prefix` as plain routes, composed as
    `include_router` composes them (tags, dependencies, responses, response class, ids)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"only API routes can be included flat, not {route!r}")
        target.add_api_route(
            prefix + route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            tags=route.tags,
            dependencies=route.dependencies,
            summary=route.summary,
            description=route.description,
            response_description=route.response_description,
            responses=route.responses,
            deprecated=route.deprecated,
            methods=route.methods,
            operation_id=route.operation_id,
            response_model_include=route.response_model_include,
            response_model_exclude=route.response_model_exclude,
            response_model_by_alias=route.response_model_by_alias,
            response_model_exclude_unset=route.response_model_exclude_unset,
            response_model_exclude_defaults=route.response_model_exclude_defaults,
            response_model_exclude_none=route.response_model_exclude_none,
            include_in_schema=route.include_in_schema,
            response_class=get_value_or_default(
                route.response_class, router.default_response_class
            ),
            name=route.name,
            route_class_override=type(route),
            callbacks=route.callbacks,
            openapi_extra=route.openapi_extra,
            generate_unique_id_function=get_value_or_default(
                route.generate_unique_id_function, router.generate_unique_id_function
            ),
            strict_content_type=get_value_or_default(
                route.strict_content_type, router.strict_content_type
            ),
            max_body_size=route.max_body_size,
            form_limits=route.form_limits or None,
        )


@dataclass(frozen=True)
class _Entry:
    order: int  # position in the routing order (root routes, a mount's routes in its place)
    route: Route
    mount: Mount | None  # the mount of another app that the route belongs to
    shadowed_by: tuple[Mount, ...]  # earlier mounts of the root: they take their paths first

    @property
    def served(self) -> bool:
        """Handed requests here; other routes (the apps' documentation) are indexed only so
        that a path they would take goes to the ordinary routing."""
        return isinstance(self.route, APIRoute)

    @property
    def template(self) -> str:
        return (self.mount.path if self.mount is not None else "") + self.route.path


def _key(path: str) -> str:
    """A path's first three segments: `/api/v1/users/7` -> `/api/v1/users`."""
    return "/".join(path.split("/", 4)[:4])


class RouteIndex:
    """The routes a request path can match, in routing order, found by the path (static routes)
    or by its first three segments (routes with parameters further on)."""

    def __init__(self, entries: Sequence[_Entry]) -> None:
        everywhere: list[_Entry] = []  # a parameter within the first three segments
        by_key: dict[str, list[_Entry]] = {}
        static: dict[str, list[_Entry]] = {}
        for entry in entries:
            template = entry.template
            if "{" not in template:
                static.setdefault(template, []).append(entry)
            elif "{" in _key(template):
                everywhere.append(entry)
            else:
                by_key.setdefault(_key(template), []).append(entry)

        def ordered(*groups: Sequence[_Entry]) -> tuple[_Entry, ...]:
            return tuple(sorted((e for group in groups for e in group), key=lambda e: e.order))

        self.everywhere = ordered(everywhere)
        self.by_key = {key: ordered(found, everywhere) for key, found in by_key.items()}
        self.static = {
            path: ordered(found, by_key.get(_key(path), []), everywhere)
            for path, found in static.items()
        }

    def candidates(self, path: str) -> tuple[_Entry, ...]:
        found = self.static.get(path)
        if found is None:
            found = self.by_key.get(_key(path), self.everywhere)
        return found


def route_path(scope: Scope) -> str:
    """The path routes are matched against (without the root path a proxy may have set)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if not root_path or not path.startswith(root_path):
        return path
    if path == root_path:
        return ""
    return path[len(root_path) :] if path[len(root_path)] == "/" else path


class IndexedRouting:
    """The innermost ASGI app of the root router: a request that fully matches an indexed route
    is handed to it at once; any other goes to `fallback`, the router's own routing."""

    def __init__(self, router: APIRouter, index: RouteIndex, fallback: ASGIApp) -> None:
        self.router = router
        self.index = index
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = route_path(scope)
            for entry in self.index.candidates(path):
                taken = self._dispatch(entry, scope)
                if taken:
                    await entry.route.handle(scope, receive, send)
                    return
                if taken is None:
                    break
        await self.fallback(scope, receive, send)

    def _dispatch(self, entry: _Entry, scope: Scope) -> bool | None:
        """Whether `entry` takes the request; if so, `scope` is updated as the routers and the
        mount on the way would have updated it. None: the route would take it, but it is left to
        the ordinary routing."""
        for mount in entry.shadowed_by:
            if mount.matches(scope)[0] is not Match.NONE:
                return False
        mount_scope: Scope | None = None
        route_scope: Scope = scope
        if entry.mount is not None:
            match, mount_scope = entry.mount.matches(scope)
            if match is not Match.FULL:
                return False
            route_scope = {**scope, **mount_scope}
        match, child_scope = entry.route.matches(route_scope)
        if match is not Match.FULL:
            return False
        if not entry.served:
            return None
        if "router" not in scope:
            scope["router"] = self.router
        if entry.mount is not None:
            assert mount_scope is not None
            scope.update(mount_scope)
            _route_selected(scope=scope, path=entry.mount.path_format, mount=True)
            scope["app"] = entry.mount.app
        scope.update(child_scope)
        _route_selected(scope=scope, path=entry.route.path_format)
        return True


def _mounted_app(route: BaseRoute, root: FastAPI) -> FastAPI | None:
    """The FastAPI app of a mount whose routes can be served from the root: no middleware of
    its own, no root path, no exception handler the root app lacks."""
    if not isinstance(route, Mount) or not isinstance(route.app, FastAPI):
        return None
    app = route.app
    handlers_differ = any(
        root.exception_handlers.get(key) is not handler
        for key, handler in app.exception_handlers.items()
    )
    own_limit = getattr(app, "max_body_size", None) is not None
    if app.user_middleware or app.root_path or app.router.form_limits or own_limit:
        return None
    return None if handlers_differ else app


def _entries(root: FastAPI) -> list[_Entry]:
    """The root's routes, and those of the FastAPI apps mounted in it, in routing order, up to
    the first route that could take any path (a mount of something else: static files)."""
    entries: list[_Entry] = []
    mounts: list[Mount] = []

    def add(route: Route, mount: Mount | None) -> None:
        entries.append(_Entry(len(entries), route, mount, tuple(mounts)))

    for route in root.router.routes:
        if isinstance(route, Route):
            add(route, None)
            continue
        app = _mounted_app(route, root)
        if app is None:
            break
        assert isinstance(route, Mount)
        for child in app.router.routes:
            if not isinstance(child, Route):
                break
            add(child, route)
        mounts.append(route)
    return entries


def install(app: FastAPI) -> RouteIndex:
    """Puts `IndexedRouting` in front of `app`'s router, for the routes `app` has now (a route
    added later is served by the ordinary routing)."""
    router = app.router
    if router.middleware_stack != router.app:
        raise RuntimeError("the root router has middleware of its own: it would be skipped")
    index = RouteIndex(_entries(app))
    router.middleware_stack = IndexedRouting(router, index, router.app)
    return index
