"""Who is calling the REST API, and the guards endpoints declare in their signatures.

Accepted: `Portus-Auth: <username>:<application token>` (Portus's header),
`Authorization: Bearer <application token>`, and HTTP Basic with a password or an application
token (so that a user can create a first token with curl; passwords go through the same lockout
as everywhere). Every route declares either a guard below or `Public`; a test walks the routes to
keep it so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import credentials, throttle
from app.auth.errors import LoginThrottled, PasswordChecksBusyError
from app.authz.principal import ANONYMOUS, Principal
from app.core import metrics
from app.core.db import SAFE_METHODS, DbSession, ReadConn
from app.core.errors import Forbidden, Unauthenticated
from app.core.security import PasswordChecksBusy
from app.core.state import AppState, State

# The ways to authenticate, as the OpenAPI document declares them (`document_security`). Not
# FastAPI security dependencies: those were three more dependencies to resolve on every request,
# for headers `get_principal` reads itself.
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "Portus-Auth": {
        "type": "apiKey",
        "in": "header",
        "name": "Portus-Auth",
        "description": "`<username>:<application token>`",
    },
    "Bearer": {"type": "http", "scheme": "bearer", "description": "An application token"},
    "Basic": {"type": "http", "scheme": "basic", "description": "Password or application token"},
}


class _NotAuthenticated(Unauthenticated):
    headers = {"WWW-Authenticate": 'Bearer realm="portus"'}


async def get_principal(request: Request, session: DbSession) -> Principal:
    """Tokens and browser sessions are looked up on a GET's own session (it has no transaction,
    see `app.core.db.get_session`), which then finds the user without a query of its own; for
    other methods on a read connection: the request's transaction has not begun yet, so an
    endpoint that works in several short transactions (deletes that reach the registry) holds
    no lock meanwhile (on SQLite, the one write lock)."""
    state: AppState = request.state.app  # not a dependency: one less to resolve per request
    reader = session if request.method in SAFE_METHODS else None
    headers = request.headers
    portus_auth = headers.get("portus-auth")
    header = headers.get("authorization", "")
    scheme, _, bearer = header.partition(" ")
    try:
        if portus_auth:
            username, sep, token = portus_auth.partition(":")
            if not sep:
                raise credentials.AuthenticationFailed("Portus-Auth must be <username>:<token>")
            return await _token_login(state, reader, username, token)
        if bearer and scheme.lower() == "bearer":
            return await _token_login(state, reader, None, bearer)
        if header[:6].lower() == "basic ":
            username, secret = credentials.parse_basic(header)
            if credentials.is_application_token(secret):
                return await _token_login(state, reader, username, secret)
            return await password_login(state, request, username, secret)
    except credentials.AuthenticationFailed as exc:
        await count_failed_login(state, request, exc)
        raise _NotAuthenticated(f"Authentication fails: {exc.message}") from exc
    cookie = request.cookies.get(credentials.SESSION_COOKIE)
    if not cookie:
        return ANONYMOUS
    try:
        async with _reading(state, reader) as conn:
            return await credentials.login_with_session(
                conn,
                state.digester,
                cookie,
                method=request.method,
                csrf_header=request.headers.get("x-csrf-token"),
            )
    except credentials.CsrfFailed as exc:
        raise Forbidden("Authorization fails: missing or wrong X-CSRF-Token header") from exc
    except credentials.AuthenticationFailed:
        # An ended or unknown session is an anonymous visitor (who may still browse and sign
        # in; routes that need a user answer 401), not a refusal of every request: the page
        # cannot clear an httpOnly cookie, `DELETE /session` does. Nor is it a guess to count:
        # a stale tab polling must not throttle its address.
        return ANONYMOUS


async def password_login(
    state: AppState, request: Request, username: str, password: str, *, local_only: bool = False
) -> Principal:
    """`credentials.login_with_password` from this client, its refusals as REST errors: 429
    (throttled) or 503 (password checks saturated), with Retry-After; a wrong password stays
    AuthenticationFailed (already counted)."""
    try:
        return await credentials.login_with_password(
            state, throttle.client_address(request), username, password, local_only=local_only
        )
    except throttle.TooManyFailures as exc:
        metrics.LOGIN_THROTTLED.labels("api").inc()
        raise LoginThrottled(str(exc), exc.retry_after) from exc
    except PasswordChecksBusy as exc:
        raise PasswordChecksBusyError(str(exc), exc.retry_after) from exc


async def count_failed_login(
    state: AppState, request: Request, failure: credentials.AuthenticationFailed
) -> None:
    """A failed login not counted yet (a wrong token) counts against the client's address."""
    metrics.LOGIN_FAILURES.labels("api").inc()
    if not failure.guess or failure.counted:
        return
    await throttle.record_failure(
        state.sessionmaker, state.settings.login_rate_limit, throttle.client_address(request)
    )


@asynccontextmanager
async def _reading(
    state: AppState, reader: AsyncSession | None
) -> AsyncIterator[ReadConn | AsyncSession]:
    """`reader` (a GET's session), else a read connection of its own (see `get_principal`)."""
    if reader is not None:
        yield reader
        return
    async with state.read_connection() as conn:
        yield conn


async def _token_login(
    state: AppState, reader: AsyncSession | None, username: str | None, token: str
) -> Principal:
    async with _reading(state, reader) as conn:
        return await credentials.login_with_application_token(conn, state.digester, username, token)


OptionalPrincipal = Annotated[Principal, Depends(get_principal)]


async def require_user(principal: OptionalPrincipal) -> Principal:
    if not principal.authenticated:
        raise _NotAuthenticated()
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_user)]) -> Principal:
    if not principal.admin:
        raise Forbidden("Authorization fails: administrators only")
    return principal


async def browsing_principal(principal: OptionalPrincipal, state: State) -> Principal:
    """A signed-in user, or (with `anonymous_browsing`) an anonymous visitor, whom the policy
    then shows public namespaces only."""
    if principal.authenticated or state.settings.anonymous_browsing.enabled:
        return principal
    raise _NotAuthenticated()


async def public() -> None:
    """Marks a route that anybody may call (it is checked by the route audit test). A coroutine:
    FastAPI would run a plain function in a worker thread."""


CurrentUser = Annotated[Principal, Depends(require_user)]
AdminUser = Annotated[Principal, Depends(require_admin)]
BrowsingUser = Annotated[Principal, Depends(browsing_principal)]
Public = Depends(public)


def _identifies_caller(dependant: Dependant) -> bool:
    return any(
        found.call is get_principal or _identifies_caller(found) for found in dependant.dependencies
    )


def document_security(app: FastAPI) -> None:
    """`app`'s OpenAPI document declares `SECURITY_SCHEMES`, and each operation that identifies
    its caller (any that depends on `get_principal`) accepts them."""
    generate = app.openapi
    accepted: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = generate()
        document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
        for route in app.routes:
            if not (isinstance(route, APIRoute) and route.include_in_schema):
                continue
            if not _identifies_caller(route.dependant):
                continue
            operations = document["paths"][route.path_format]
            for method in route.methods or ():
                operations[method.lower()]["security"] = accepted
        return document

    app.openapi = openapi  # type: ignore[method-assign]
