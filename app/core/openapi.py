"""The documented error answers of the REST API, shared by every router.

Each carries the schema of the `{"message": ...}` envelope (`app.core.errors`): a client generated
from the OpenAPI document can read errors, and schemathesis checks their bodies."""

from __future__ import annotations

from typing import Any, Final

from app.core.errors import ErrorMessage, ValidationErrorMessage

Responses = dict[int | str, dict[str, Any]]

DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Malformed JSON, a parameter missing, unknown or of the wrong type (the message names "
    'it: `{"message": "user[email] is missing"}`), or a value that cannot be stored',
    401: "Authentication fails",
    403: "Authorization fails",
    404: "Not found (or not visible to the caller)",
    405: "This feature is disabled",
    409: "A concurrent change conflicted; retry",
    422: 'Invalid fields: `{"message": {field: [problems]}}`',
    429: "Too many failed logins from this address: retry after `Retry-After` seconds",
    502: "The registry failed",
    503: "The database is busy; retry",
}


def error_responses(*statuses: int | tuple[int, str]) -> Responses:
    """`responses=` for these error statuses, each a status (with its common description) or a
    `(status, description)` pair for what this operation means by it."""
    documented: Responses = {}
    for entry in statuses:
        status, description = entry if isinstance(entry, tuple) else (entry, DESCRIPTIONS[entry])
        model = ValidationErrorMessage if status == 422 else ErrorMessage
        documented[status] = {"model": model, "description": description}
    return documented
