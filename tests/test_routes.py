"""Every route declares who may call it: a principal guard, or the explicit `Public` marker."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Mount

from app.auth.dependencies import browsing_principal, get_principal, public
from app.core.config import Settings
from app.main import create_app
from tests.conftest import ClientFactory


def _calls(dependant: Dependant) -> set[object]:
    found: set[object] = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def _walk(routes: list[Any], prefix: str) -> list[tuple[str, APIRoute]]:
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif isinstance(route, Mount) and isinstance(route.app, FastAPI):
            found += _walk(list(route.app.routes), prefix + route.path)
        elif hasattr(route, "effective_candidates"):
            # FastAPI >= 0.16x keeps included routers as branches of effective routes.
            for candidate in route.effective_candidates():
                original = getattr(candidate, "original_route", candidate)
                if isinstance(original, APIRoute):
                    found.append((prefix + candidate.path, original))
                else:
                    found += _walk([candidate], prefix)
    return found


def _routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    return _walk(list(app.routes), "")


TOKEN_REALM = {"/v2/token", "/v2/"}  # the registry's own scheme (HTTP Basic / OAuth2 form)


def test_every_route_is_guarded_or_public(settings: Settings) -> None:
    app = create_app(settings)
    unguarded = []
    routes = _routes(app)
    for path, route in routes:
        if path in TOKEN_REALM:
            continue
        calls = _calls(route.dependant)
        if get_principal not in calls and public not in calls:
            unguarded.append(f"{sorted(route.methods or [])} {path}")
    assert len(routes) > 10
    assert unguarded == []


def test_public_routes_are_the_expected_few(settings: Settings) -> None:
    public_paths = {
        path for path, route in _routes(create_app(settings)) if public in _calls(route.dependant)
    }
    assert public_paths == {
        "/api/v1/_ping",
        "/api/v1/explore",
        "/api/v1/session",
        "/api/v1/settings",
        "/api/v1/health",
        "/api/v1/users/bootstrap",
        "/api/v1/users/signup",
        "/api/v1/users/password_reset",
        # Sign-in with a provider: the browser is nobody yet.
        "/api/v1/oauth/{provider}/start",
        "/api/v1/oauth/{provider}/callback",
        "/api/v1/oauth/signup",
        "/v2/webhooks/events",
    }


def test_browsable_routes_are_the_expected_few(settings: Settings) -> None:
    """Open to anonymous visitors when `anonymous_browsing` is on (public namespaces only)."""
    browsable = {
        (path, method)
        for path, route in _routes(create_app(settings))
        if browsing_principal in _calls(route.dependant)
        for method in route.methods or []
    }
    assert browsable == {
        ("/api/v1/repositories/{repository_id}", "GET"),
        ("/api/v1/repositories/{repository_id}/comments", "GET"),
        ("/api/v1/repositories/{repository_id}/tags", "GET"),
        ("/api/v1/repositories/{repository_id}/tags/grouped", "GET"),
        ("/api/v1/repositories/{repository_id}/tags/{tag_id}", "GET"),
    }


async def test_anonymous_calls_to_guarded_routes_are_401(
    settings: Settings, make_client: ClientFactory
) -> None:
    """Behaviour, not structure: every non-public operation refuses a caller without credentials
    (browsable ones too, once anonymous browsing is off)."""
    app = create_app(settings)
    checked = 0
    async with make_client(anonymous_browsing={"enabled": False}) as client:
        for path, route in _routes(app):
            if path in TOKEN_REALM or public in _calls(route.dependant):
                continue
            url = path.replace("{id_or_email}", "1")
            url = "".join(part if not part.startswith("{") else "1" for part in _split(url))
            for method in route.methods or []:
                response = await client.request(method, url, json={})
                assert response.status_code == 401, (method, url, response.text)
                checked += 1
    assert checked >= 8


def _split(path: str) -> list[str]:
    """`/a/{x}/b` -> ["/a/", "{x}", "/b"]."""
    parts: list[str] = []
    rest = path
    while "{" in rest:
        head, _, tail = rest.partition("{")
        name, _, rest = tail.partition("}")
        parts += [head, "{" + name + "}"]
    return [*parts, rest]
