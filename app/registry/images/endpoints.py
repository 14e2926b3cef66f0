"""`GET /tags/{id}/details`: what the registry serves for a tag, beyond what is stored here."""

from __future__ import annotations

from fastapi import APIRouter

from app.auth.dependencies import CurrentUser
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.params import ResourceId
from app.core.state import State
from app.registry.client import client_factory
from app.registry.images import service
from app.registry.images.schemas import TagDetails

router = APIRouter(prefix="/tags", tags=["tags"])


@router.get(
    "/{tag_id}/details",
    summary="Image details of a tag, from the registry",
    responses=error_responses(
        401,
        (404, "No such tag, not visible to the caller, or the registry no longer serves it"),
        422,
        (502, "The registry did not answer, or sent what cannot be read"),
    ),
)
async def get_tag_details(
    tag_id: ResourceId, session: DbSession, state: State, principal: CurrentUser
) -> TagDetails:
    """Layers with their sizes, creation time, OS and architecture (per platform for a
    manifest list or OCI index), labels, entrypoint and command, and the build history. Read
    from the registry at each call; pull permission on the tag's namespace is required."""
    client_for = client_factory(state.http, state.settings, state.signing_key)
    return await service.tag_details(session, client_for, principal, tag_id)
