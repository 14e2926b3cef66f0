"""The DELETE routes of namespaces, teams, repositories and tags: they delete in the registry
first (`app.registry.deletion.service`), so they live here rather than in their domains, which
stay below the registry. Same paths, tags and operation ids as the domains' own routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.auth.dependencies import CurrentUser
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.params import ResourceId, Text
from app.core.state import State
from app.registry.client import client_factory
from app.registry.deletion import service

namespaces_router = APIRouter(prefix="/namespaces", tags=["namespaces"])
teams_router = APIRouter(prefix="/teams", tags=["teams"])
repositories_router = APIRouter(prefix="/repositories", tags=["repositories"])
tags_router = APIRouter(prefix="/tags", tags=["tags"])


class TeamDeletion(BaseModel):
    """`DELETE /teams/:id`'s optional body: Portus read `new_team` from the body or the query."""

    model_config = ConfigDict(extra="forbid")

    new_team: Text | None = Field(
        None, min_length=1, max_length=255, description="as the `new_team` query parameter"
    )


# The error answers each domain documents for its routes.
NAMESPACE_ERRORS = error_responses(401, 403, 404, 422)
TEAM_ERRORS = error_responses(
    401, 403, 404, (422, "Invalid fields (last owner, admin demotion, taken name...)")
)
REPOSITORY_ERRORS = error_responses(401, 404, 422)


@namespaces_router.delete(
    "/{namespace_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **NAMESPACE_ERRORS,
        **error_responses(
            (403, "Disabled, global or personal namespace, or not allowed"),
            (502, "The registry failed midway: retry to finish"),
        ),
    },
)
async def delete_namespace(namespace_id: ResourceId, state: State, principal: CurrentUser) -> None:
    """Deletes every repository in the registry, then the namespace. If the registry fails
    midway the answer is a 502, the namespace stays with exactly the repositories the registry
    still serves, and the same request again finishes the job."""
    client_for = client_factory(state.http, state.settings, state.signing_key)
    await service.delete_namespace(
        state.sessionmaker, state.settings, client_for, principal, namespace_id
    )


@teams_router.delete(
    "/{team_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **TEAM_ERRORS,
        **error_responses((502, "The registry failed midway: retry to finish")),
    },
)
async def delete_team(
    team_id: ResourceId,
    state: State,
    principal: CurrentUser,
    new_team: Annotated[
        Text | None,
        Query(max_length=255, description="team that receives the namespaces; else deleted"),
    ] = None,
    body: Annotated[TeamDeletion | None, Body()] = None,
) -> None:
    """`delete.enabled` and owner (or contributor with `delete.contributors`, or admin). The
    team's namespaces move to `new_team` (query or body; an unknown team is a 404), or are
    deleted with their repositories."""
    if new_team is None and body is not None:
        new_team = body.new_team
    client_for = client_factory(state.http, state.settings, state.signing_key)
    await service.delete_team(
        state.sessionmaker, state.settings, client_for, principal, team_id, new_team=new_team
    )


@repositories_router.delete(
    "/{repository_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **REPOSITORY_ERRORS,
        **error_responses(
            (403, "Deleting is disabled, or not allowed to the caller"),
            (502, "The registry failed; what it deleted is gone here too"),
        ),
    },
)
async def delete_repository(
    repository_id: ResourceId, state: State, principal: CurrentUser
) -> None:
    """Every image of the repository, in the registry first, then here."""
    client_for = client_factory(state.http, state.settings, state.signing_key)
    await service.delete_repository(
        state.sessionmaker, state.settings, client_for, principal, repository_id
    )


@tags_router.delete(
    "/{tag_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **REPOSITORY_ERRORS,
        **error_responses(
            (403, "Deleting is disabled, or not allowed to the caller"),
            (502, "The registry refused or did not answer; nothing changed"),
        ),
    },
)
async def delete_tag(
    tag_id: ResourceId, session: DbSession, state: State, principal: CurrentUser
) -> None:
    """Delete one tag, in the registry and here. Other tags of the same image stay."""
    client_for = client_factory(state.http, state.settings, state.signing_key)
    await service.delete_tag(session, state.settings, client_for, principal, tag_id)
