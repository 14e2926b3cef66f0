"""The one place routers are assembled."""

from __future__ import annotations

from fastapi import FastAPI

from app.activities import endpoints as activity_endpoints
from app.auth import endpoints as token_endpoints
from app.auth.dependencies import CurrentUser, document_security
from app.core.errors import install_error_handlers
from app.core.openapi import error_responses, install_docs
from app.core.routing import include_routes
from app.core.version import VERSION
from app.health import endpoints as health_endpoints
from app.namespaces import endpoints as namespace_endpoints
from app.oauth import endpoints as oauth_endpoints
from app.registry.deletion import endpoints as deletion_endpoints
from app.registry.events import endpoints as event_endpoints
from app.registry.images import endpoints as image_endpoints
from app.registry.registries import endpoints as registry_endpoints
from app.repositories import endpoints as repository_endpoints
from app.search import endpoints as search_endpoints
from app.sessions import endpoints as session_endpoints
from app.site import endpoints as site_endpoints
from app.teams import endpoints as team_endpoints
from app.users import endpoints as user_endpoints
from app.webhooks import endpoints as webhook_endpoints

API_VERSION = VERSION


def include_registry_routes(app: FastAPI) -> None:
    """`/v2/token` and `/v2/webhooks/events`: called by the registry and its clients."""
    include_routes(app.router, token_endpoints.router)
    include_routes(app.router, event_endpoints.router)


def create_api_app() -> FastAPI:
    """The REST API, mounted at `/api` (own 404/405 and error envelope, own OpenAPI document)."""
    api = FastAPI(
        title="Portus API",
        version=API_VERSION,
        openapi_url="/openapi.json",
        docs_url=None,  # install_docs: Swagger UI with its files served from here
        redoc_url=None,
        description="Portus v1 API. Authenticate with `Portus-Auth: <user>:<application token>`, "
        "`Authorization: Bearer <application token>`, HTTP Basic, or the SPA's session cookie "
        '(with `X-CSRF-Token` on changes). Errors: `{"message": ...}`.',
        # Answers any operation may give, besides its own documented ones.
        responses=error_responses(400, 409, 429, 503),
    )
    install_error_handlers(api)
    # Plain routes, not included routers: see app.core.routing.
    for router in (
        health_endpoints.router,
        site_endpoints.router,
        user_endpoints.router,
        registry_endpoints.router,
        namespace_endpoints.router,
        namespace_endpoints.team_namespaces_router,
        team_endpoints.router,
        activity_endpoints.router,
        search_endpoints.router,
        session_endpoints.router,
        oauth_endpoints.router,
        repository_endpoints.router,
        repository_endpoints.namespace_repositories_router,
        repository_endpoints.tags_router,
        image_endpoints.router,
        webhook_endpoints.router,
        deletion_endpoints.namespaces_router,
        deletion_endpoints.teams_router,
        deletion_endpoints.repositories_router,
        deletion_endpoints.tags_router,
    ):
        include_routes(api.router, router, "/v1")

    @api.get("/version", tags=["health"], responses=error_responses(401))
    async def get_version(_user: CurrentUser) -> dict[str, object]:
        return {"api-versions": ["v1"], "git": None, "version": API_VERSION}

    document_security(api)
    install_docs(api)
    return api
