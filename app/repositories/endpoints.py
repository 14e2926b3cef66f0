from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import CurrentUser
from app.authz.queries import readable_namespaces
from app.core.db import DbSession
from app.core.errors import NotFound
from app.core.pagination import Pagination, set_page_headers
from app.core.params import ResourceId
from app.core.state import State
from app.registries.client import client_factory
from app.repositories import repository, service
from app.repositories.schemas import AuthorRef, NamespaceRef, RepositoryRead, TagRead

router = APIRouter(prefix="/repositories", tags=["repositories"])
tags_router = APIRouter(prefix="/tags", tags=["tags"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Authentication fails"},
    404: {"description": "Not found (or not visible to the caller)"},
}


def _full_name(namespace_name: str, global_: bool, name: str) -> str:
    return name if global_ else f"{namespace_name}/{name}"


@router.get("", responses=ERRORS)
async def list_repositories(
    request: Request,
    response: Response,
    session: DbSession,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[RepositoryRead]:
    """Repositories the caller may pull: public and protected ones, their teams', all for admins."""
    visible = readable_namespaces(principal)
    total = await repository.count_visible(session, visible)
    rows = await repository.page_visible(
        session, visible, offset=pagination.offset, limit=pagination.limit
    )
    set_page_headers(request, response, pagination, total)
    return [
        RepositoryRead(
            id=repo.id,
            name=repo.name,
            full_name=_full_name(ns.name, ns.global_, repo.name),
            description=repo.description,
            namespace=NamespaceRef(id=ns.id, name=ns.name),
            tags_count=tags_count,
            created_at=repo.created_at,
            updated_at=repo.updated_at,
        )
        for repo, ns, tags_count in rows
    ]


@router.get("/{repository_id}/tags", responses=ERRORS)
async def list_repository_tags(
    repository_id: ResourceId, session: DbSession, principal: CurrentUser
) -> list[TagRead]:
    repo = await repository.get_visible(session, repository_id, readable_namespaces(principal))
    if repo is None:
        raise NotFound("Not found: no such repository")
    return [
        TagRead(
            id=tag.id,
            name=tag.name,
            digest=tag.digest,
            media_type=tag.media_type,
            image_id=tag.image_id,
            size=tag.size,
            author=AuthorRef(id=tag.user_id, name=tag.username),
            pulled_at=tag.pulled_at,
            created_at=tag.created_at,
            updated_at=tag.updated_at,
        )
        for tag in await repository.tags_of(session, repo.id)
    ]


@router.delete(
    "/{repository_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **ERRORS,
        403: {"description": "Deleting is disabled, or not allowed to the caller"},
        502: {"description": "The registry failed; what it deleted is gone here too"},
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
        **ERRORS,
        403: {"description": "Deleting is disabled, or not allowed to the caller"},
        502: {"description": "The registry refused or did not answer; nothing changed"},
    },
)
async def delete_tag(
    tag_id: ResourceId, session: DbSession, state: State, principal: CurrentUser
) -> None:
    """Delete one tag, in the registry and here. Other tags of the same image stay."""
    client_for = client_factory(state.http, state.settings, state.signing_key)
    await service.delete_tag(session, state.settings, client_for, principal, tag_id)
