from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

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


ERRORS = error_responses(401, (405, "Anonymous browsing is disabled"), 422)


def _hits(hits: list[service.Hit]) -> list[SearchHit]:
    return [SearchHit(kind=h.kind, id=h.id, name=h.name, description=h.description) for h in hits]


@router.get("/search", responses=ERRORS)
async def search(q: Q, session: DbSession, principal: CurrentUser) -> list[SearchHit]:
    """Repositories, namespaces and teams the caller may see; exact, then prefix, then partial
    matches."""
    return _hits(await service.search(session, principal, q))


@router.get("/explore", dependencies=[Public], responses=ERRORS)
async def explore(q: Q, session: DbSession, settings: SettingsDep) -> list[SearchHit]:
    """Public repositories, for anyone, when `anonymous_browsing` is on."""
    if not settings.anonymous_browsing.enabled:
        raise FeatureDisabled("anonymous browsing is disabled (anonymous_browsing.enabled)")
    return _hits(await service.explore(session, q))
