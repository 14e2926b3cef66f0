from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from app.auth.dependencies import CurrentUser, Public
from app.core.db import DbSession
from app.core.errors import FeatureDisabled
from app.core.openapi import error_responses
from app.core.params import Text
from app.core.state import SettingsDep
from app.search import service

router = APIRouter(tags=["search"])

Q = Annotated[
    Text, Query(max_length=255, description="text; what follows the first `:` is dropped")
]


class SearchHit(BaseModel):
    kind: Literal["repository", "namespace", "team"]
    id: int
    name: str
    description: str | None
    updated_at: datetime | None = Field(description="its last change")
    stars: int | None = Field(None, description="repositories")
    tags_count: int | None = Field(None, description="repositories")
    repositories_count: int | None = Field(None, description="namespaces")
    members_count: int | None = Field(None, description="teams")
    namespaces_count: int | None = Field(None, description="teams")


# What each total header counts.
TOTAL_HEADERS = {
    "repository": "X-Total-Repositories",
    "namespace": "X-Total-Namespaces",
    "team": "X-Total-Teams",
}
_TOTALS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The hits (at most 25 of each kind); the headers count every match",
        "headers": {
            header: {"description": f"How many {kind}s match", "schema": {"type": "integer"}}
            for kind, header in TOTAL_HEADERS.items()
        },
    }
}
ERRORS = error_responses(401, (405, "Anonymous browsing is disabled"), 422)


def _hits(response: Response, results: service.Results) -> list[SearchHit]:
    for kind, header in TOTAL_HEADERS.items():
        response.headers[header] = str(results.totals[kind])
    return [
        SearchHit(
            kind=h.kind,
            id=h.id,
            name=h.name,
            description=h.description,
            updated_at=h.updated_at,
            **h.counts,
        )
        for h in results.hits
    ]


@router.get("/search", responses={**ERRORS, **_TOTALS})
async def search(
    q: Q, response: Response, session: DbSession, principal: CurrentUser
) -> list[SearchHit]:
    """Repositories, namespaces and teams the caller may see; exact, then prefix, then partial
    matches. Each hit with its counts (stars and tags of a repository, repositories of a
    namespace, members and namespaces of a team); `X-Total-Repositories`,
    `X-Total-Namespaces` and `X-Total-Teams` count all the matches of each kind."""
    return _hits(response, await service.search(session, principal, q))


@router.get("/explore", dependencies=[Public], responses={**ERRORS, **_TOTALS})
async def explore(
    q: Q, response: Response, session: DbSession, settings: SettingsDep
) -> list[SearchHit]:
    """Public repositories, for anyone, when `anonymous_browsing` is on (with their stars and
    tags, and the `X-Total-*` headers)."""
    if not settings.anonymous_browsing.enabled:
        raise FeatureDisabled("anonymous browsing is disabled (anonymous_browsing.enabled)")
    return _hits(response, await service.explore(session, q))
