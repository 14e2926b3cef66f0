from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request, Response, status

from app.auth.dependencies import AdminUser, BrowsingUser, CurrentUser
from app.authz import policy
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.db import DbSession
from app.core.errors import Invalid, NotFound
from app.core.openapi import error_responses
from app.core.pagination import (
    AFTER,
    AfterCursor,
    PageParams,
    Pagination,
    SortKey,
    decode_cursor,
    encode_cursor,
    set_page_headers,
)
from app.core.params import ResourceId
from app.core.people import avatar_url, shown_name
from app.core.state import SettingsDep
from app.models import Tag
from app.repositories import service
from app.repositories.schemas import (
    AuthorRef,
    CommentAuthor,
    CommentCreate,
    CommentRead,
    NamespaceRef,
    RepositoryDetail,
    RepositoryPermissions,
    RepositoryRead,
    RepositoryUpdate,
    TagRead,
)
from app.repositories.service import RepositoryContext

router = APIRouter(prefix="/repositories", tags=["repositories"])
namespace_repositories_router = APIRouter(
    prefix="/namespaces/{namespace_id}/repositories", tags=["namespaces"]
)
tags_router = APIRouter(prefix="/tags", tags=["tags"])

ERRORS = error_responses(401, 404, 422)


def _full_name(namespace_name: str, global_: bool, name: str) -> str:
    return name if global_ else f"{namespace_name}/{name}"


def _permissions(permissions: policy.RepositoryPermissions) -> RepositoryPermissions:
    role = None if permissions.role is None else permissions.role.name
    return RepositoryPermissions(role=role, pull=permissions.pull, push=permissions.push)


def _summary(view: service.RepositoryView) -> RepositoryRead:
    repo, ns = view.repository, view.namespace
    return RepositoryRead(
        id=repo.id,
        name=repo.name,
        full_name=_full_name(ns.name, ns.global_, repo.name),
        description=repo.description,
        namespace=NamespaceRef(id=ns.id, name=ns.name, display_name=view.namespace_display_name),
        tags_count=view.tags_count,
        created_at=repo.created_at,
        updated_at=repo.updated_at,
        permissions=_permissions(view.permissions),
    )


def _comment(settings: Settings, view: service.CommentView) -> CommentRead:
    comment, user = view.comment, view.author
    author = None
    if user is not None:
        author = CommentAuthor(
            id=user.id,
            name=shown_name(settings, user.username, user.display_name),
            avatar_url=avatar_url(settings, user.email, bot=user.bot),
        )
    return CommentRead(
        id=comment.id,
        body=comment.body,
        user_id=comment.user_id,
        author=author,
        destroyable=view.destroyable,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


def _after(after: str | None, pagination: PageParams, keys: list[SortKey]) -> list[Any] | None:
    """The sort values an `after` cursor carries (not with `all`: it has no pages)."""
    if after is not None and pagination.all:
        raise Invalid({AFTER: ["cannot be combined with all"]})
    return None if after is None else decode_cursor(after, keys)


def _next(rows: Sequence[Any], pagination: PageParams, keys: list[SortKey]) -> str | None:
    """The cursor of the page after `rows`: the sort values of its last repository."""
    if not rows or pagination.all:
        return None
    last = rows[-1][0]
    return encode_cursor(keys, [getattr(last, key.attribute) for key in keys])


@router.get("", responses=ERRORS)
async def list_repositories(
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
    after: AfterCursor = None,
) -> list[RepositoryRead]:
    """Repositories the caller may pull: public and protected ones, their teams', all for admins,
    each with the caller's rights (`permissions`).

    `Link rel="next"` carries an `after` cursor besides the next page number: following it reads
    the next page from where this one ended, whatever its depth (a page number skips all the
    rows before it). `page` keeps working alone."""
    keys = pagination.sort_keys(service.REPOSITORY_SORT)
    after_values = _after(after, pagination, keys)
    total, rows = await service.list_repositories(
        session,
        principal,
        keys=keys,
        offset=pagination.offset,
        limit=pagination.limit,
        after=after_values,
    )
    set_page_headers(
        request, response, pagination, total, next_cursor=_next(rows, pagination, keys)
    )
    return [_summary(view) for view in await service.views(session, settings, principal, rows)]


@namespace_repositories_router.get("", summary="List a namespace's repositories", responses=ERRORS)
async def list_namespace_repositories(
    namespace_id: ResourceId,
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
    after: AfterCursor = None,
) -> list[RepositoryRead]:
    """The repositories of a namespace the caller may pull from (404 otherwise), paged (with
    the `after` cursor too) and shown as in the repository list."""
    keys = pagination.sort_keys(service.REPOSITORY_SORT)
    after_values = _after(after, pagination, keys)
    total, rows = await service.list_namespace_repositories(
        session,
        principal,
        namespace_id,
        keys=keys,
        offset=pagination.offset,
        limit=pagination.limit,
        after=after_values,
    )
    set_page_headers(
        request, response, pagination, total, next_cursor=_next(rows, pagination, keys)
    )
    return [_summary(view) for view in await service.views(session, settings, principal, rows)]


@router.get("/starred", responses=ERRORS)
async def list_starred_repositories(
    session: DbSession, settings: SettingsDep, principal: CurrentUser
) -> list[RepositoryRead]:
    """The caller's starred repositories (those still visible to them)."""
    rows = await service.starred_repositories(session, principal)
    return [_summary(view) for view in await service.views(session, settings, principal, rows)]


async def _detail(
    session: DbSession, settings: Settings, principal: Principal, context: RepositoryContext
) -> RepositoryDetail:
    repo, ns = context.repository, context.namespace
    stars, starred = await service.star_facts(session, repo.id, principal.user_id)
    host = context.registry.external_hostname or context.registry.hostname
    return RepositoryDetail(
        id=repo.id,
        name=repo.name,
        full_name=context.full_name,
        description=repo.description,
        namespace=NamespaceRef(
            id=ns.id, name=ns.name, display_name=host if ns.global_ else ns.name
        ),
        tags_count=await service.tags_count(session, repo.id),
        created_at=repo.created_at,
        updated_at=repo.updated_at,
        permissions=_permissions(service.permissions(settings, principal, context)),
        stars=stars,
        starred=starred,
        destroyable=policy.can_delete(principal, context.facts, settings),
        updatable=policy.can_update_repository(principal, context.facts),
        registry_hostname=host,
        pull_command=f"docker pull {host}/{context.full_name}",
    )


@router.get("/{repository_id}", responses=ERRORS)
async def get_repository(
    repository_id: ResourceId, session: DbSession, settings: SettingsDep, principal: BrowsingUser
) -> RepositoryDetail:
    context = await service.load_repository(session, principal, repository_id)
    return await _detail(session, settings, principal, context)


@router.put("/{repository_id}", responses={**ERRORS, **error_responses((403, "Not an owner"))})
async def update_repository(
    repository_id: ResourceId,
    body: RepositoryUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> RepositoryDetail:
    """The (markdown) description: administrators and the namespace's owners. `name` is
    accepted and ignored, as in Portus."""
    context = await service.update_description(
        session, principal, repository_id, body.repository.description
    )
    return await _detail(session, settings, principal, context)


@router.post("/{repository_id}/star", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def star_repository(
    repository_id: ResourceId, session: DbSession, principal: CurrentUser
) -> None:
    await service.set_star(session, principal, repository_id, starred=True)


@router.delete("/{repository_id}/star", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def unstar_repository(
    repository_id: ResourceId, session: DbSession, principal: CurrentUser
) -> None:
    await service.set_star(session, principal, repository_id, starred=False)


@router.get("/{repository_id}/comments", responses=ERRORS)
async def list_comments(
    repository_id: ResourceId, session: DbSession, settings: SettingsDep, principal: BrowsingUser
) -> list[CommentRead]:
    """Oldest first, with their authors' names and avatars, and whether the caller may delete
    each. Whoever may see the repository may read them (anonymous visitors too, with
    anonymous browsing on)."""
    views = await service.list_comments(session, principal, repository_id)
    return [_comment(settings, view) for view in views]


@router.post("/{repository_id}/comments", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_comment(
    repository_id: ResourceId,
    body: CommentCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> CommentRead:
    view = await service.add_comment(session, principal, repository_id, body.body)
    return _comment(settings, view)


@router.delete(
    "/{repository_id}/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=ERRORS,
)
async def delete_comment(
    repository_id: ResourceId,
    comment_id: ResourceId,
    session: DbSession,
    principal: CurrentUser,
) -> None:
    """Its author, or an administrator."""
    await service.delete_comment(session, principal, repository_id, comment_id)


def _tag(tag: Tag) -> TagRead:
    return TagRead(
        id=tag.id,
        repository_id=tag.repository_id,
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


@router.get("/{repository_id}/tags", responses=ERRORS)
async def list_repository_tags(
    repository_id: ResourceId, session: DbSession, principal: BrowsingUser
) -> list[TagRead]:
    """Newest first."""
    return [_tag(tag) for tag in await service.list_tags_of(session, principal, repository_id)]


@router.get("/{repository_id}/tags/grouped", responses=ERRORS)
async def list_repository_tags_grouped(
    repository_id: ResourceId, session: DbSession, principal: BrowsingUser
) -> list[list[TagRead]]:
    """Tags grouped by image (digest), the most recently pushed image first."""
    groups: dict[str, list[TagRead]] = {}
    for tag in await service.list_tags_of(session, principal, repository_id):
        groups.setdefault(tag.digest, []).append(_tag(tag))
    return list(groups.values())


# After `/tags/grouped`, which it would otherwise take for a tag id.
@router.get("/{repository_id}/tags/{tag_id}", responses=ERRORS)
async def get_repository_tag(
    repository_id: ResourceId, tag_id: ResourceId, session: DbSession, principal: BrowsingUser
) -> TagRead:
    """One tag of the repository (Portus ignored the repository id; a tag of another
    repository is a 404 here)."""
    context = await service.load_tag(session, principal, tag_id)
    if context.repository.id != repository_id:
        raise NotFound("Not found: no such tag in this repository")
    return _tag(context.tag)


@tags_router.get("", responses={**ERRORS, **error_responses((403, "Administrators only"))})
async def list_tags(
    request: Request,
    response: Response,
    session: DbSession,
    _admin: AdminUser,
    pagination: Pagination,
) -> list[TagRead]:
    """Every tag (administrators), newest first unless sorted otherwise."""
    total, tags = await service.list_tags(
        session,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.TAG_SORT) if pagination.sort_attr else None,
    )
    set_page_headers(request, response, pagination, total)
    return [_tag(tag) for tag in tags]


@tags_router.get("/{tag_id}", responses=ERRORS)
async def get_tag(tag_id: ResourceId, session: DbSession, principal: CurrentUser) -> TagRead:
    context = await service.load_tag(session, principal, tag_id)
    return _tag(context.tag)
