"""Errors that carry their HTTP status, rendered in Portus's `{"message": ...}` envelope."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)


class ErrorMessage(BaseModel):
    """The envelope of every error answer of the REST API."""

    message: str


class ValidationErrorMessage(BaseModel):
    """The envelope of a 422: the problems of each invalid field."""

    message: dict[str, list[str]]


class AppError(Exception):
    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: Any = None, *, status_code: int | None = None) -> None:
        self.message = message if message is not None else self.default_message
        if status_code is not None:
            self.status_code = status_code
        super().__init__(str(self.message))

    default_message: Any = "Bad request"


class BadRequest(AppError):
    status_code = 400


class Unstorable(BadRequest):
    """A value the database refused (NUL character, too long, out of range) that validation let
    through: the client's input, so a 400 rather than a 500. Nothing was written."""

    default_message = "a value cannot be stored: too long, out of range or invalid"


class Unauthenticated(AppError):
    status_code = 401
    default_message = "Authentication fails"


class Forbidden(AppError):
    status_code = 403
    default_message = "Authorization fails"


class NotFound(AppError):
    status_code = 404
    default_message = "Not found"


class FeatureDisabled(AppError):
    status_code = 405
    default_message = "This feature is disabled"


class Conflict(AppError):
    status_code = 409
    default_message = "Conflict"


class Invalid(AppError):
    """422 with field errors: `{"message": {"field": ["problem", ...]}}`."""

    status_code = 422

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)


class TooManyRequests(AppError):
    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class ServiceUnavailable(AppError):
    status_code = 503


def _envelope(status: int, message: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return _envelope(exc.status_code, exc.message, exc.headers)


# Problems with the request's shape rather than its values, which Portus's Grape parameter
# validation answered with a 400 before any rule ran: malformed JSON, a parameter missing, one
# nobody declared, or one of the wrong type (a string for a number, a list for an object).
# Everything else (too long, bad format, not one of the choices, a rule of ours) is a 422 with
# the problems per field, as Portus's model validation answered.
_SHAPE_ERRORS = frozenset(
    {
        "missing",
        "extra_forbidden",
        "json_invalid",
        "int_parsing",
        "int_from_float",
        "float_parsing",
        "bool_parsing",
        "decimal_parsing",
    }
)
_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _is_shape_error(kind: str) -> bool:
    return kind in _SHAPE_ERRORS or kind.endswith("_type")


def _parameter(loc: tuple[Any, ...]) -> str:
    """A parameter as Portus's API names it: `user[email]`, `only[0]`, `page`."""
    parts = [str(part) for part in loc if part not in _LOCATIONS]
    if not parts:
        return ""
    return parts[0] + "".join(f"[{part}]" for part in parts[1:])


def _lowered(text: str) -> str:
    return text[:1].lower() + text[1:]


def _shape_problem(error: Any, content_type: str) -> str:
    """One shape problem in words, naming the parameter: `user[email] is missing`."""
    kind: str = error["type"]
    loc: tuple[Any, ...] = tuple(error["loc"])
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error")
        at = f" at position {loc[1]}" if len(loc) > 1 else ""
        return f"The request body is malformed JSON{f' ({detail}{at})' if detail else ''}"
    name = _parameter(loc)
    if not name:
        if kind == "missing":
            return "The request body is missing"
        if content_type and "json" not in content_type:
            return (
                "The request body must be a JSON object (Content-Type: application/json), "
                f"not {content_type}"
            )
        return "The request body must be a JSON object"
    if kind == "missing":
        return f"{name} is missing"
    if kind == "extra_forbidden":
        return f"{name} is not a parameter of this request"
    return f"{name} is invalid: {_lowered(str(error['msg']))}"


def _field(loc: tuple[Any, ...]) -> str:
    # Drop the location kind ("body", "query") and the wrapper object ("user") from the name.
    parts = [str(part) for part in loc if part not in _LOCATIONS]
    if len(parts) > 1 and parts[0] == "user":
        parts = parts[1:]
    return ".".join(parts) or "request"


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """400 `{"message": "user[email] is missing, page is invalid: ..."}` for a request of the
    wrong shape; else 422 `{"message": {field: [problems]}}`."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    shape = [error for error in errors if _is_shape_error(str(error["type"]))]
    if shape:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        problems = list(dict.fromkeys(_shape_problem(error, content_type) for error in shape))
        return _envelope(400, ", ".join(problems))
    fields: dict[str, list[str]] = {}
    for error in errors:
        fields.setdefault(_field(tuple(error["loc"])), []).append(error["msg"])
    return _envelope(422, fields)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    message = messages.get(exc.status_code, exc.detail)
    return _envelope(exc.status_code, message, getattr(exc, "headers", None))


async def _unstorable(_request: Request, exc: Exception) -> JSONResponse:
    return _envelope(Unstorable.status_code, Unstorable.default_message)


def is_data_exception(exc: BaseException) -> bool:
    """SQLSTATE class 22 (data exception: NUL byte, value too long, out of range...), however
    the driver wraps it (asyncpg errors reach SQLAlchemy as a generic DBAPIError)."""
    orig = getattr(exc, "orig", exc)
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return (
        isinstance(exc, sqlalchemy.exc.DataError)
        or isinstance(orig, asyncpg.exceptions.DataError)
        or str(state or "").startswith("22")
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_data_exception(exc):
        return await _unstorable(request, exc)
    return await _unexpected(request, exc)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return _envelope(500, "Internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sqlalchemy.exc.DataError, _unstorable)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_error)
    app.add_exception_handler(asyncpg.exceptions.DataError, _unstorable)
    app.add_exception_handler(Exception, _unexpected)
