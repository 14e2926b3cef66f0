"""`/v2/token`: the registry's token realm (GET per token.md, POST per oauth.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app.auth import credentials, service
from app.auth.errors import TokenRequestError, token_error_response
from app.auth.scope import parse_scopes
from app.authz.principal import ANONYMOUS, Principal
from app.core.db import DbSession
from app.core.state import State

router = APIRouter(tags=["registry"])

TOKEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Missing `service` or unsupported `grant_type`"},
    401: {"description": "Bad credentials or a malformed scope"},
}


def _error(
    request: Request, message: str, status_code: int = 401, code: str = "UNAUTHORIZED"
) -> JSONResponse:
    realm = request.url.hostname or "portus"
    exc = TokenRequestError(message, status_code=status_code, code=code)
    return token_error_response(exc, realm)


@router.get("/v2/token", responses=TOKEN_RESPONSES, summary="Issue a registry token")
async def get_token(
    request: Request,
    session: DbSession,
    state: State,
    service_name: Annotated[str | None, Query(alias="service")] = None,
    scope: Annotated[list[str] | None, Query()] = None,
    offline_token: str | None = None,
    client_id: str | None = None,
    account: str | None = None,  # informative only: `sub` is whoever authenticated
) -> JSONResponse:
    """Basic credentials (password or application token) or none (anonymous). Failures are
    answered rather than raised so that the failed-attempt count is committed."""
    if not service_name:
        return _error(request, "the service parameter is required", 400, "INVALID_REQUEST")
    try:
        scopes = parse_scopes(scope or [])
    except TokenRequestError as exc:
        return _error(request, exc.message)

    principal: Principal = ANONYMOUS
    header = request.headers.get("authorization")
    if header:
        try:
            username, secret = credentials.parse_basic(header)
            principal = await credentials.login(session, state.digester, username, secret)
        except credentials.AuthenticationFailed as exc:
            return _error(request, exc.message)

    access = await service.authorize(session, state.settings, principal, service_name, scopes)
    issued = service.sign(
        state.settings,
        state.signing_key,
        subject=principal.username,
        audience=service_name,
        access=access,
    )
    body = issued.body()
    if (offline_token or "").lower() == "true" and principal.user_id is not None:
        body["refresh_token"] = await service.create_refresh_token(
            session, state.digester, principal, service=service_name, client_id=client_id
        )
    return JSONResponse(body)


@router.post("/v2/token", responses=TOKEN_RESPONSES, summary="OAuth2 token grant")
async def post_token(request: Request, session: DbSession, state: State) -> JSONResponse:
    """`grant_type=password` or `grant_type=refresh_token`, form-encoded (oauth.md)."""
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    service_name = fields.get("service")
    grant_type = fields.get("grant_type")
    if not service_name:
        return _error(request, "the service field is required", 400, "INVALID_REQUEST")
    try:
        scopes = parse_scopes(str(v) for v in form.getlist("scope"))
    except TokenRequestError as exc:
        return _error(request, exc.message)

    refresh_token: str | None = None
    try:
        if grant_type == "password":
            username, password = fields.get("username", ""), fields.get("password", "")
            if not username:
                return _error(request, "the username field is required", 400, "INVALID_REQUEST")
            principal = await credentials.login(session, state.digester, username, password)
            if fields.get("access_type") == "offline":
                refresh_token = await service.create_refresh_token(
                    session,
                    state.digester,
                    principal,
                    service=service_name,
                    client_id=fields.get("client_id"),
                )
        elif grant_type == "refresh_token":
            refresh_token = fields.get("refresh_token", "")
            principal, _ = await credentials.login_with_refresh_token(
                session, state.digester, refresh_token, service_name
            )
        else:
            return _error(
                request,
                f"unsupported grant_type {grant_type!r}: use password or refresh_token",
                400,
                "UNSUPPORTED",
            )
    except credentials.AuthenticationFailed as exc:
        return _error(request, exc.message)

    access = await service.authorize(session, state.settings, principal, service_name, scopes)
    issued = service.sign(
        state.settings,
        state.signing_key,
        subject=principal.username,
        audience=service_name,
        access=access,
    )
    body = issued.body()
    body["scope"] = " ".join(scope.as_text() for scope in access if scope.actions)
    if refresh_token:
        body["refresh_token"] = refresh_token
    return JSONResponse(body)
