"""Repositories and tags here: finding, forgetting (with their activities and webhooks),
showing and editing them; stars and comments. Deleting in the registry: `app.registry.deletion`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import INTERNAL_USERNAME, Principal
from app.authz.queries import readable_namespaces, role_in_namespace
from app.core.config import Settings
from app.core.db import session_scope, utcnow
from app.core.errors import Forbidden, NotFound
from app.core.jobs import JobContext
from app.core.pagination import SortKey
from app.models import (
    Comment,
    Namespace,
    Registry,
    Repository,
    Star,
    Tag,
    User,
)
from app.namespaces import service as namespaces
from app.repositories import repository as queries  # `repository` is a Repository here
from app.webhooks import service as webhooks


async def load_tag(session: AsyncSession, principal: Principal, tag_id: int) -> TagContext:
    """The tag, if the caller may see it (404 otherwise: existence stays hidden)."""
    tag = await session.get(Tag, tag_id)
    if tag is None:
        raise NotFound("Not found: no such tag")
    try:
        context = await load_repository(session, principal, tag.repository_id)
    except NotFound as exc:
        raise NotFound("Not found: no such tag") from exc
    return TagContext(context.repository, context.namespace, context.registry, context.facts, tag)


async def forget_tags(
    session: AsyncSession,
    namespace: Namespace,
    repository: Repository,
    tags: Sequence[Tag],
    *,
    actor_id: int | None,
    reason: str | None = None,
    notify: bool = True,
) -> bool:
    """Remove `tags` here (the registry no longer serves them), a `repository.delete` activity
    each and, with `notify`, the namespace's `delete` webhooks; a repository left without tags
    goes too (`namespace.delete`). True if it went.

    Deletes made here (API, garbage collector, sync) reach the registry as the internal
    identity, whose notifications are ignored: a webhook per tag is fired here instead, in the
    same transaction. A delete by a registry client arrives as the registry's own event, which
    the event processor hands to the webhooks itself (`notify=False`)."""
    extra = {} if reason is None else {"reason": reason}
    if notify:
        await _notify_deleted(session, namespace, repository, tags, actor_id, reason)
    for tag in tags:
        activities.record(
            session,
            "repository.delete",
            trackable_type="Repository",
            trackable_id=repository.id,
            owner_id=actor_id,
            recipient_type="Tag",
            recipient_id=tag.id,
            parameters={
                "repository_name": repository.name,
                "namespace_id": namespace.id,
                "namespace_name": namespace.name,
                "tag_name": tag.name,
            }
            | extra,
        )
        await session.delete(tag)
    await session.flush()
    if await queries.tags_count(session, repository.id):
        return False
    activities.record(
        session,
        "namespace.delete",
        trackable_type="Namespace",
        trackable_id=namespace.id,
        owner_id=actor_id,
        parameters={
            "repository_name": repository.name,
            "namespace_id": namespace.id,
            "namespace_name": namespace.name,
        }
        | extra,
    )
    await session.delete(repository)
    await session.flush()
    return True


async def _notify_deleted(
    session: AsyncSession,
    namespace: Namespace,
    repository: Repository,
    tags: Sequence[Tag],
    actor_id: int | None,
    reason: str | None,
) -> None:
    if not tags:
        return
    webhook_ids = await webhooks.enabled_webhook_ids(session, namespace.id)
    if not webhook_ids:
        return
    actor = await session.get(User, actor_id) if actor_id is not None else None
    full_name = repository.name if namespace.global_ else f"{namespace.name}/{repository.name}"
    for tag in tags:
        await webhooks.enqueue(
            session,
            namespace.id,
            "delete",
            {
                "id": str(uuid.uuid4()),
                "timestamp": utcnow().isoformat(),
                "action": "delete",
                "target": {"repository": full_name, "tag": tag.name, "digest": tag.digest},
                "actor": {"name": actor.username if actor else INTERNAL_USERNAME},
                "source": {"portus": reason or "deleted through Portus"},
            },
            webhook_ids=webhook_ids,
        )


async def find_or_create_repository(
    session: AsyncSession, namespace: Namespace, name: str
) -> Repository:
    """The repository `name` of `namespace`, created when missing. Safe against a concurrent
    creator (event processing, the catalog sync): the loser reads the winner's row."""
    repository = await queries.by_name(session, namespace.id, name)
    if repository is not None:
        return repository
    try:
        async with session.begin_nested():
            repository = Repository(name=name, namespace_id=namespace.id)
            session.add(repository)
            await session.flush()
            return repository
    except IntegrityError:
        found = await queries.by_name(session, namespace.id, name)
        if found is None:
            raise
        return found


# --- showing and editing repositories; stars and comments -------------------------------------
@dataclass(frozen=True)
class RepositoryContext:
    repository: Repository
    namespace: Namespace
    registry: Registry
    facts: policy.NamespaceFacts

    @property
    def full_name(self) -> str:
        if self.namespace.global_:
            return self.repository.name
        return f"{self.namespace.name}/{self.repository.name}"


@dataclass(frozen=True)
class TagContext(RepositoryContext):
    tag: Tag


async def load_repository(
    session: AsyncSession, principal: Principal, repository_id: int
) -> RepositoryContext:
    row = await queries.with_namespace_and_role(session, repository_id, principal.user_id)
    if row is None:
        raise NotFound("Not found: no such repository")
    repository, namespace, registry, role = row
    facts = policy.NamespaceFacts(
        id=namespace.id, visibility=namespace.visibility, global_=namespace.global_, role=role
    )
    if not policy.can_pull(principal, facts):
        raise NotFound("Not found: no such repository")
    return RepositoryContext(repository, namespace, registry, facts)


async def update_description(
    session: AsyncSession, principal: Principal, repository_id: int, description: str | None
) -> RepositoryContext:
    """`description=None` changes nothing (still refused to whoever may not change it)."""
    context = await load_repository(session, principal, repository_id)
    if not policy.can_update_repository(principal, context.facts):
        raise Forbidden("Authorization fails: only owners edit the description")
    if description is None:
        return context
    context.repository.description = description
    await session.flush()
    await session.refresh(context.repository)
    return context


async def set_star(
    session: AsyncSession, principal: Principal, repository_id: int, *, starred: bool
) -> None:
    context = await load_repository(session, principal, repository_id)
    assert principal.user_id is not None
    existing = await queries.star(session, context.repository.id, principal.user_id)
    if starred and existing is None:
        session.add(Star(repository_id=context.repository.id, user_id=principal.user_id))
    elif not starred and existing is not None:
        await session.delete(existing)
    await session.flush()


@dataclass(frozen=True)
class CommentView:
    comment: Comment
    author: User | None  # None: the account is gone
    destroyable: bool  # by the caller


def _comment_view(principal: Principal, comment: Comment, author: User | None) -> CommentView:
    destroyable = policy.can_delete_comment(principal, author_id=comment.user_id)
    return CommentView(comment, author, destroyable)


async def add_comment(
    session: AsyncSession, principal: Principal, repository_id: int, body: str
) -> CommentView:
    context = await load_repository(session, principal, repository_id)
    if not policy.can_comment(principal, context.facts):
        raise Forbidden("Authorization fails: you may not comment here")
    comment = Comment(body=body, repository_id=context.repository.id, user_id=principal.user_id)
    session.add(comment)
    await session.flush()
    await session.refresh(comment)
    author = await session.get(User, principal.user_id) if principal.user_id is not None else None
    return _comment_view(principal, comment, author)


async def delete_comment(
    session: AsyncSession, principal: Principal, repository_id: int, comment_id: int
) -> None:
    await load_repository(session, principal, repository_id)
    comment = await queries.comment(session, repository_id, comment_id)
    if comment is None:
        raise NotFound("Not found: no such comment")
    if not policy.can_delete_comment(principal, author_id=comment.user_id):
        raise Forbidden("Authorization fails: only its author or an administrator may delete it")
    await session.delete(comment)
    await session.flush()


# --- reading, for the endpoints ----------------------------------------------------------------
REPOSITORY_SORT = queries.REPOSITORY_SORT
TAG_SORT = queries.TAG_SORT


async def list_repositories(
    session: AsyncSession,
    principal: Principal,
    *,
    keys: Sequence[SortKey],
    offset: int,
    limit: int | None,
    after: Sequence[Any] | None = None,
) -> tuple[int, list[tuple[Repository, Namespace, int]]]:
    """How many repositories the caller may pull, and one page of them with their tag counts."""
    return await queries.page_visible(
        session,
        readable_namespaces(principal),
        keys=keys,
        offset=offset,
        limit=limit,
        after=after,
    )


async def list_namespace_repositories(
    session: AsyncSession,
    principal: Principal,
    namespace_id: int,
    *,
    keys: Sequence[SortKey],
    offset: int,
    limit: int | None,
    after: Sequence[Any] | None = None,
) -> tuple[int, list[tuple[Repository, Namespace, int]]]:
    """The repositories of a namespace the caller may pull from (404 otherwise), as the
    repository list shows them (the same visibility condition, narrowed to the namespace)."""
    await namespaces.load(session, principal, namespace_id)
    return await queries.page_visible(
        session,
        readable_namespaces(principal) & (Namespace.id == namespace_id),
        keys=keys,
        offset=offset,
        limit=limit,
        after=after,
    )


@dataclass(frozen=True)
class RepositoryView:
    repository: Repository
    namespace: Namespace
    tags_count: int
    permissions: policy.RepositoryPermissions
    namespace_display_name: str


async def views(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    rows: Sequence[tuple[Repository, Namespace, int]],
) -> list[RepositoryView]:
    """`rows` with the caller's rights: the roles of the page's namespaces in one query."""
    roles = await queries.namespace_roles(
        session, {namespace.id for _, namespace, _ in rows}, role_in_namespace(principal)
    )
    names = await namespaces.display_names(session, (namespace for _, namespace, _ in rows))
    result = []
    for repository, namespace, tags in rows:
        facts = policy.NamespaceFacts(
            id=namespace.id,
            visibility=namespace.visibility,
            global_=namespace.global_,
            role=roles.get(namespace.id),
        )
        permissions = policy.repository_permissions(principal, facts, settings)
        result.append(RepositoryView(repository, namespace, tags, permissions, names[namespace.id]))
    return result


def permissions(
    settings: Settings, principal: Principal, context: RepositoryContext
) -> policy.RepositoryPermissions:
    return policy.repository_permissions(principal, context.facts, settings)


async def starred_repositories(
    session: AsyncSession, principal: Principal
) -> list[tuple[Repository, Namespace, int]]:
    """The caller's starred repositories that they may still pull, newest star first."""
    assert principal.user_id is not None
    return await queries.starred_by(session, principal.user_id, readable_namespaces(principal))


async def star_facts(
    session: AsyncSession, repository_id: int, user_id: int | None
) -> tuple[int, bool]:
    """How many stars the repository has, and whether `user_id` gave one."""
    return await queries.star_facts(session, repository_id, user_id)


async def tags_count(session: AsyncSession, repository_id: int) -> int:
    return await queries.tags_count(session, repository_id)


async def list_comments(
    session: AsyncSession, principal: Principal, repository_id: int
) -> list[CommentView]:
    """The comments with their authors, and which of them the caller may delete."""
    context = await load_repository(session, principal, repository_id)
    rows = await queries.comments_of(session, context.repository.id)
    return [_comment_view(principal, comment, author) for comment, author in rows]


async def list_tags_of(
    session: AsyncSession, principal: Principal, repository_id: int
) -> Sequence[Tag]:
    """The tags of a repository the caller may pull, newest first."""
    context = await load_repository(session, principal, repository_id)
    return await queries.tags_of(session, context.repository.id)


async def list_tags(
    session: AsyncSession, *, offset: int, limit: int | None, order: list[Any] | None
) -> tuple[int, Sequence[Tag]]:
    """Every tag (the administrators' list), newest first unless `order` says otherwise."""
    return await queries.page_tags(session, offset=offset, limit=limit, order=order)


# --- background -------------------------------------------------------------------------------
FOLD_BATCH = 10_000


async def fold_repository_counts(context: JobContext) -> str | None:
    """Pending repository count changes into the namespaces' counters (keeps X-Total cheap)."""
    total = 0
    while True:
        async with session_scope(context.sessionmaker) as session:
            folded = await queries.fold_repository_counts(session, batch=FOLD_BATCH)
        total += folded
        if folded < FOLD_BATCH:
            return f"folded {total} repository count changes" if total else None
