"""`/v2/token`: the registry's token realm (GET per token.md, POST per oauth.md).

The hot path of the product: every registry operation of every client starts here. It reads on
an autocommit connection (no BEGIN/COMMIT), with one query for the caller and one for the scopes,
and writes only for password logins (failed attempts) and new refresh tokens.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.auth import credentials, repository, service, throttle
from app.auth.errors import TokenRequestError, token_error_response
from app.auth.scope import Scope, parse_scopes
from app.authz.principal import ANONYMOUS, Principal
from app.core import metrics
from app.core.db import session_scope
from app.core.security import PasswordChecksBusy
from app.core.state import AppState

router = APIRouter(tags=["registry"])

_TOKEN_PARAMETERS: list[dict[str, Any]] = [
    {"name": "service", "in": "query", "required": True, "schema": {"type": "string"}},
    {
        "name": "scope",
        "in": "query",
        "schema": {"type": "array", "items": {"type": "string"}},
        "description": "repeatable: `repository:<name>:<actions>` or `registry:catalog:*`",
    },
    {"name": "offline_token", "in": "query", "schema": {"type": "boolean"}},
    {"name": "client_id", "in": "query", "schema": {"type": "string"}},
    {"name": "account", "in": "query", "schema": {"type": "string"}},
]
TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "`token`, `access_token` (the same JWT), `expires_in`, `issued_at`"},
    400: {"description": "Missing `service` or unsupported `grant_type`"},
    401: {"description": "Bad credentials or a malformed scope"},
}


def _error(
    request: Request, message: str, status_code: int = 401, code: str = "UNAUTHORIZED"
) -> JSONResponse:
    return _refusal(request, TokenRequestError(message, status_code=status_code, code=code))


# Metrics reasons of the token service's refusals, by error code (a fixed set of labels).
_REFUSAL_REASONS = {
    "TOOMANYREQUESTS": "throttled",
    "INVALID_REQUEST": "invalid_request",
    "UNSUPPORTED": "invalid_request",
    "TOO_LARGE": "too_large",
    "UNAVAILABLE": "busy",
}


def _refusal(request: Request, exc: TokenRequestError) -> JSONResponse:
    reason = _REFUSAL_REASONS.get(exc.code, "unauthorized")
    metrics.TOKEN_REQUESTS.labels("refused", reason).inc()
    return token_error_response(exc, request.url.hostname or "portus")


def _granted(issued: service.IssuedRegistryToken, scopes: list[Scope]) -> None:
    """Counted as partial when some requested action was not granted (an action policy refused,
    an unknown namespace): what a client sees as "denied" on push or pull."""
    asked = sum(len(set(scope.actions)) for scope in scopes)
    given = sum(len(granted.actions) for granted in issued.access)
    metrics.TOKEN_REQUESTS.labels("granted", "full" if given >= asked else "partial").inc()


async def _issue(
    state: AppState,
    conn: Any,
    principal: Principal,
    service_name: str,
    scopes: list[Scope],
) -> service.IssuedRegistryToken:
    access = await service.authorize(conn, state.settings, principal, service_name, scopes)
    return _sign(state, principal, service_name, access)


async def _token_login_and_issue(
    state: AppState,
    conn: Any,
    kind: Literal["application", "refresh"],
    secret: str,
    username: str | None,
    service_name: str,
    scopes: list[Scope],
) -> tuple[Principal, service.IssuedRegistryToken]:
    """Application or refresh token: who, and what they may do, in one query; then the checks
    (digest first) and the grant."""
    lookup = (
        credentials.application_token_lookup(secret)
        if kind == "application"
        else credentials.refresh_token_lookup(secret)
    )
    query = service.namespace_query(scopes)
    owner, known, rows = await repository.token_owner_and_namespaces(
        conn,
        kind,
        lookup,
        service=service_name,
        names=query.names,
        include_global=query.include_global,
    )
    if kind == "application":
        principal = credentials.check_application_token(owner, state.digester, username, secret)
    else:
        principal = credentials.check_refresh_token(owner, state.digester, secret, service_name)
    access = service.grant(state.settings, principal, scopes, known, rows)
    return principal, _sign(state, principal, service_name, access)


def _sign(
    state: AppState, principal: Principal, service_name: str, access: list[service.GrantedScope]
) -> service.IssuedRegistryToken:
    return service.sign(
        state.settings,
        state.signing_key,
        subject=principal.username,
        audience=service_name,
        access=access,
    )


MAX_FORM_BYTES = 64 * 1024
MAX_SECRET_LENGTH = 1024  # longer is no password of ours, and is not worth hashing
MAX_FIELD_LENGTH = 255  # the columns these values end up in


def _checked(name: str, value: str | None, max_length: int = MAX_FIELD_LENGTH) -> str | None:
    """Refuse values no client sends (control characters, absurd lengths) with a 400, before
    they reach the database, which would refuse them less politely."""
    if value is None:
        return None
    if len(value) > max_length:
        raise TokenRequestError(
            f"{name} is longer than {max_length} characters",
            status_code=400,
            code="INVALID_REQUEST",
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise TokenRequestError(
            f"{name} contains control characters", status_code=400, code="INVALID_REQUEST"
        )
    return value


async def _form(request: Request) -> list[tuple[str, str]]:
    """The urlencoded form every client sends, parsed directly (a third of the cost of the
    generic form parser on this hot path); anything else goes through Starlette's parser.
    Bodies over 64 KiB are refused: a token request is a few hundred bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > MAX_FORM_BYTES:
        raise TokenRequestError("the request body is too large", status_code=413, code="TOO_LARGE")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise TokenRequestError(
            "send the form as application/x-www-form-urlencoded",
            status_code=400,
            code="INVALID_REQUEST",
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise TokenRequestError(
                "the request body is too large", status_code=413, code="TOO_LARGE"
            )
    return parse_qsl(body.decode("latin-1"), keep_blank_values=True)


async def _password_login(
    state: AppState, request: Request, username: str, secret: str
) -> Principal:
    """Counted and throttled (`app.auth.throttle`); no read connection held meanwhile (argon2
    takes a while)."""
    _checked("username", username)
    _checked("password", secret, MAX_SECRET_LENGTH)
    try:
        return await credentials.login_with_password(
            state, throttle.client_address(request), username, secret
        )
    except throttle.TooManyFailures as exc:
        metrics.LOGIN_THROTTLED.labels("registry_token").inc()
        raise TokenRequestError(
            str(exc),
            status_code=429,
            code="TOOMANYREQUESTS",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    except PasswordChecksBusy as exc:
        raise TokenRequestError(
            str(exc),
            status_code=503,
            code="UNAVAILABLE",
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc


async def _refused(
    state: AppState, request: Request, exc: credentials.AuthenticationFailed
) -> JSONResponse:
    """Wrong credentials not counted yet (a token) count against the client's address."""
    metrics.LOGIN_FAILURES.labels("registry_token").inc()
    metrics.TOKEN_REQUESTS.labels("refused", "bad_credentials").inc()
    if exc.guess and not exc.counted:
        client = throttle.client_address(request)
        await throttle.record_failure(state.sessionmaker, state.settings.login_rate_limit, client)
    realm = request.url.hostname or "portus"
    return token_error_response(TokenRequestError(exc.message), realm)


@router.get(
    "/v2/token",
    responses=TOKEN_RESPONSES,
    summary="Issue a registry token",
    openapi_extra={"parameters": _TOKEN_PARAMETERS},
)
async def get_token(request: Request) -> JSONResponse:
    """HTTP Basic with a password or an application token, or no credentials (anonymous)."""
    state: AppState = request.state.app
    params = request.query_params
    try:
        service_name = _checked("service", params.get("service"))
        client_id = _checked("client_id", params.get("client_id"))
        if not service_name:
            return _error(request, "the service parameter is required", 400, "INVALID_REQUEST")
        scopes = parse_scopes(params.getlist("scope"))
        header = request.headers.get("authorization")
        username = secret = None
        principal: Principal = ANONYMOUS
        if header:
            username, secret = credentials.parse_basic(header)
            if not credentials.is_application_token(secret):
                principal = await _password_login(state, request, username, secret)
        async with state.read_connection() as conn:
            if secret is not None and credentials.is_application_token(secret):
                # CI's hot path: the token's owner and the scopes' namespaces in one query.
                principal, issued = await _token_login_and_issue(
                    state, conn, "application", secret, username, service_name, scopes
                )
            else:
                issued = await _issue(state, conn, principal, service_name, scopes)
    except TokenRequestError as exc:
        return _refusal(request, exc)
    except credentials.AuthenticationFailed as exc:
        return await _refused(state, request, exc)

    _granted(issued, scopes)
    body = issued.body()
    if (params.get("offline_token") or "").lower() == "true" and principal.user_id is not None:
        # docker login: an identity token, so that docker stores it instead of the password.
        async with session_scope(state.sessionmaker) as session:
            body["refresh_token"] = await service.create_refresh_token(
                session, state.digester, principal, service=service_name, client_id=client_id
            )
    return JSONResponse(body)


@router.post("/v2/token", responses=TOKEN_RESPONSES, summary="OAuth2 token grant")
async def post_token(request: Request) -> JSONResponse:
    """Form-encoded `grant_type=password` (with `access_type=offline` for a refresh token) or
    `grant_type=refresh_token`; `scope` repeated or space-separated."""
    state: AppState = request.state.app
    refresh_token: str | None = None
    try:
        form = await _form(request)
        fields = dict(form)
        service_name = _checked("service", fields.get("service"))
        client_id = _checked("client_id", fields.get("client_id"))
        grant_type = fields.get("grant_type")
        if not service_name:
            return _error(request, "the service field is required", 400, "INVALID_REQUEST")
        if grant_type not in ("password", "refresh_token"):
            return _error(
                request,
                f"unsupported grant_type {grant_type!r}: use password or refresh_token",
                400,
                "UNSUPPORTED",
            )
        scopes = parse_scopes(value for key, value in form if key == "scope")
        principal: Principal = ANONYMOUS
        username, secret = fields.get("username", ""), fields.get("password", "")
        if grant_type == "password":
            if not username:
                return _error(request, "the username field is required", 400, "INVALID_REQUEST")
            if not credentials.is_application_token(secret):
                principal = await _password_login(state, request, username, secret)
        async with state.read_connection() as conn:
            if grant_type == "password" and credentials.is_application_token(secret):
                principal, issued = await _token_login_and_issue(
                    state, conn, "application", secret, username, service_name, scopes
                )
            elif grant_type == "refresh_token":
                refresh_token = fields.get("refresh_token", "")
                principal, issued = await _token_login_and_issue(
                    state, conn, "refresh", refresh_token, None, service_name, scopes
                )
            else:
                issued = await _issue(state, conn, principal, service_name, scopes)
    except TokenRequestError as exc:
        return _refusal(request, exc)
    except credentials.AuthenticationFailed as exc:
        return await _refused(state, request, exc)

    _granted(issued, scopes)
    if grant_type == "password" and fields.get("access_type") == "offline":
        async with session_scope(state.sessionmaker) as session:
            refresh_token = await service.create_refresh_token(
                session, state.digester, principal, service=service_name, client_id=client_id
            )
    body = issued.body()
    body["scope"] = " ".join(scope.as_text() for scope in issued.access if scope.actions)
    if refresh_token:
        body["refresh_token"] = refresh_token
    return JSONResponse(body)
