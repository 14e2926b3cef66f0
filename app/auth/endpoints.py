"""`/v2/token`: the registry's token realm (GET per token.md, POST per oauth.md).

The hot path of the product: every registry operation of every client starts here. The endpoint
parses the request into a `TokenRequest`, hands it to `app.auth.tokens.issue_token` and maps its
refusals to the registry's `{"errors": [...]}` format.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.auth import credentials, throttle
from app.auth.errors import TokenRequestError, token_error_response
from app.auth.tokens import IssuedToken, TokenRequest, authenticate_basic, issue_token
from app.core import metrics
from app.core.security import PasswordChecksBusy

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


# Metrics reasons of the token service's refusals, by error code (a fixed set of labels).
_REFUSAL_REASONS = {
    "TOOMANYREQUESTS": "throttled",
    "INVALID_REQUEST": "invalid_request",
    "UNSUPPORTED": "invalid_request",
    "TOO_LARGE": "too_large",
    "UNAVAILABLE": "busy",
}
_REFUSALS = (
    TokenRequestError,
    credentials.AuthenticationFailed,
    throttle.TooManyFailures,
    PasswordChecksBusy,
)


def _refusal(request: Request, exc: Exception) -> JSONResponse:
    """A refusal of `issue_token` (or of the parsing) in the registry's error format."""
    realm = request.url.hostname or "portus"
    if isinstance(exc, credentials.AuthenticationFailed):
        metrics.LOGIN_FAILURES.labels("registry_token").inc()
        metrics.TOKEN_REQUESTS.labels("refused", "bad_credentials").inc()
        return token_error_response(TokenRequestError(exc.message), realm)
    if isinstance(exc, throttle.TooManyFailures):
        metrics.LOGIN_THROTTLED.labels("registry_token").inc()
        headers = {"Retry-After": str(exc.retry_after)}
        exc = TokenRequestError(str(exc), status_code=429, code="TOOMANYREQUESTS", headers=headers)
    elif isinstance(exc, PasswordChecksBusy):
        headers = {"Retry-After": str(exc.retry_after)}
        exc = TokenRequestError(str(exc), status_code=503, code="UNAVAILABLE", headers=headers)
    assert isinstance(exc, TokenRequestError)
    metrics.TOKEN_REQUESTS.labels("refused", _REFUSAL_REASONS.get(exc.code, "unauthorized")).inc()
    return token_error_response(exc, realm)


def _granted(token_request: TokenRequest, issued: IssuedToken) -> None:
    """Counted as partial when some requested action was not granted (an action policy refused,
    an unknown namespace): what a client sees as "denied" on push or pull."""
    asked = sum(len(set(scope.actions)) for scope in token_request.scopes)
    given = sum(len(granted.actions) for granted in issued.registry_token.access)
    metrics.TOKEN_REQUESTS.labels("granted", "full" if given >= asked else "partial").inc()


MAX_FORM_BYTES = 64 * 1024


async def _form(request: Request) -> list[tuple[str, str]]:
    """The urlencoded form every client sends, parsed directly (a third of the cost of the
    generic form parser on this hot path). Bodies over 64 KiB are refused: a token request is a
    few hundred bytes."""
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


@router.get(
    "/v2/token",
    responses=TOKEN_RESPONSES,
    summary="Issue a registry token",
    openapi_extra={"parameters": _TOKEN_PARAMETERS},
)
async def get_token(request: Request) -> JSONResponse:
    """HTTP Basic with a password or an application token, or no credentials (anonymous)."""
    params = request.query_params
    try:
        token_request = TokenRequest.from_query(
            params,
            params.getlist("scope"),
            request.headers.get("authorization"),
            throttle.client_address(request),
        )
        issued = await issue_token(request.state.app, token_request)
    except _REFUSALS as exc:
        return _refusal(request, exc)
    _granted(token_request, issued)
    return JSONResponse(issued.body(oauth=False))


@router.post("/v2/token", responses=TOKEN_RESPONSES, summary="OAuth2 token grant")
async def post_token(request: Request) -> JSONResponse:
    """Form-encoded `grant_type=password` (with `access_type=offline` for a refresh token) or
    `grant_type=refresh_token`; `scope` repeated or space-separated."""
    try:
        form = await _form(request)
        token_request = TokenRequest.from_form(form, throttle.client_address(request))
        issued = await issue_token(request.state.app, token_request)
    except _REFUSALS as exc:
        return _refusal(request, exc)
    _granted(token_request, issued)
    return JSONResponse(issued.body(oauth=True))


@router.get(
    "/v2/",
    summary="Check credentials (the registry API's version check: Portus's ping)",
    responses={
        200: {"description": "The HTTP Basic credentials (password or application token) work"},
        401: {"description": "No or bad credentials, with `WWW-Authenticate: Basic`"},
    },
)
async def ping(request: Request) -> JSONResponse:
    """200 `{}` with valid HTTP Basic credentials (a password or an application token, as
    `/v2/token` accepts them), else 401 with a `WWW-Authenticate: Basic` challenge."""
    realm = request.url.hostname or "portus"
    try:
        await authenticate_basic(
            request.state.app,
            request.headers.get("authorization"),
            throttle.client_address(request),
        )
    except credentials.AuthenticationFailed as exc:
        metrics.LOGIN_FAILURES.labels("registry_ping").inc()
        return token_error_response(TokenRequestError(exc.message), realm)
    except throttle.TooManyFailures as exc:
        metrics.LOGIN_THROTTLED.labels("registry_ping").inc()
        headers = {"Retry-After": str(exc.retry_after)}
        refusal = TokenRequestError(
            str(exc), status_code=429, code="TOOMANYREQUESTS", headers=headers
        )
        return token_error_response(refusal, realm)
    except PasswordChecksBusy as exc:
        headers = {"Retry-After": str(exc.retry_after)}
        busy = TokenRequestError(str(exc), status_code=503, code="UNAVAILABLE", headers=headers)
        return token_error_response(busy, realm)
    return JSONResponse({})
