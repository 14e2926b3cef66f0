"""Errors of the password path (REST envelope), and of the token endpoint, in the registry's
`{"errors": [...]}` envelope."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from app.core.errors import ServiceUnavailable, TooManyRequests


class LoginThrottled(TooManyRequests):
    """429: a password attempt refused before it was checked (`app.auth.throttle`)."""


class PasswordChecksBusyError(ServiceUnavailable):
    """503: every password check slot and queue place is taken (`password_checks`)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class TokenRequestError(Exception):
    """A request the token service refuses (bad credentials, malformed scope, ...)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 401,
        code: str = "UNAUTHORIZED",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.headers = headers or {}


def token_error_response(exc: TokenRequestError, realm: str) -> JSONResponse:
    headers = dict(exc.headers)
    if exc.status_code == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{realm}"'
    return JSONResponse(
        {"errors": [{"code": exc.code, "message": exc.message}]},
        status_code=exc.status_code,
        headers=headers,
    )


async def handle_token_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TokenRequestError)
    return token_error_response(exc, realm=request.url.hostname or "portus")
