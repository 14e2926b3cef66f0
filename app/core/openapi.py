"""The documented error answers of the REST API, shared by every router.

Each carries the schema of the `{"message": ...}` envelope (`app.core.errors`): a client generated
from the OpenAPI document can read errors, and schemathesis checks their bodies."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

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


# Swagger UI's files, served by the service itself: from a CDN the page is blank offline (and
# every visit would tell a third party who reads our docs). fastapi-offline ships the current
# swagger-ui-dist build under the names FastAPI's page expects; only its files are used.
DOCS_ASSETS = Path(str(importlib.resources.files("fastapi_offline") / "static"))
DOCS_ASSETS_PATH = "/docs-assets"


def install_docs(app: FastAPI, path: str = "/docs") -> None:
    """Swagger UI at `path` of `app`, its script, style and icon at `DOCS_ASSETS_PATH`."""
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        assets = f"{root}{DOCS_ASSETS_PATH}"
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{assets}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets}/swagger-ui.css",
            swagger_favicon_url=f"{assets}/favicon.png",
            # No badge fetched from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    # A plain route, as FastAPI's own docs route: not an operation of the API.
    app.add_route(path, swagger_ui, include_in_schema=False)
