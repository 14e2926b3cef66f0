"""Turning stored registry events into repositories and tags.

The registry does not guarantee order, and redelivers; so every change is idempotent and an
event never overwrites what a newer event (by registry timestamp) already recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import ANONYMOUS, Principal, PrincipalKind
from app.core.config import Settings
from app.core.db import utcnow
from app.core.names import is_repository_name
from app.models import Namespace, Registry, Repository, Role, Tag
from app.namespaces import service as namespaces
from app.registry.client import ManifestInfo, ManifestNotFound, RegistryClient, RegistryError
from app.registry.events import repository as queries
from app.registry.events.schemas import Event, EventRefused, stored_event
from app.repositories import service as repositories
from app.webhooks import service as webhooks

logger = logging.getLogger(__name__)

# Manifests of one batch asked from the registry at once (a batch holds up to 50 pushes).
PREFETCH_CONCURRENCY = 8

ClientFactory = Callable[[Registry], RegistryClient]


class EventSkipped(Exception):
    """The event cannot be applied and never will be (unknown registry, invalid name...)."""


# `EventContext.manifests` value of a manifest the registry answered 404 for.
NOT_SERVED = "not served"


@dataclass(frozen=True)
class Actor:
    """The user named by an event's `actor` (the columns the processing needs)."""

    id: int
    username: str
    admin: bool
    bot: bool
    namespace_id: int | None

    def principal(self) -> Principal:
        """The actor as the token service saw them when it let them push."""
        return Principal(
            kind=PrincipalKind.user,
            user_id=self.id,
            username=self.username,
            admin=self.admin,
            bot=self.bot,
            personal_namespace_id=self.namespace_id,
        )


@dataclass
class BatchCache:
    """What the events of one batch look up again and again, looked up once per batch.

    It belongs to one batch's transaction (events.worker starts a new one per batch), so it
    sees what that transaction sees. Events change namespaces and repositories: the processor
    caches the ones it creates and drops a repository it removes, and `forget_changes` drops
    both kinds whenever an event's savepoint rolls back (its creations and removals are undone).
    Registries, users and webhooks are never changed by events and stay for the whole batch.
    """

    registries: list[Registry] | None = None
    actors: dict[str, Actor | None] = field(default_factory=dict)
    # Only rows that exist are cached: a miss is asked again (another event may create it).
    namespaces: dict[tuple[int, str | None], Namespace] = field(default_factory=dict)
    repositories: dict[tuple[int, str], Repository] = field(default_factory=dict)
    webhook_ids: dict[int, Sequence[int]] = field(default_factory=dict)
    # (namespace id, user id) -> the user's role in the namespace's team.
    roles: dict[tuple[int, int], Role | None] = field(default_factory=dict)

    def forget_changes(self) -> None:
        self.namespaces.clear()
        self.repositories.clear()
        self.roles.clear()


@dataclass
class EventContext:
    client_for: ClientFactory
    # Push permissions are checked with the token service's policy, under these settings.
    settings: Settings
    # The batch's manifests, asked from the registry before its events are processed (see
    # `prefetch_manifests` and events.worker): never while holding SQLite's write lock. None:
    # the registry could not be asked; NOT_SERVED: it answered 404.
    manifests: dict[tuple[str, str], ManifestInfo | str | None] = field(default_factory=dict)
    # Called after a batch that handled events committed (wakes the webhook sender).
    on_committed: Callable[[], None] = field(default=lambda: None)
    # Look-ups shared by the events of the batch being processed (see `BatchCache`).
    batch: BatchCache = field(default_factory=BatchCache)


def _push_key(event: Event) -> tuple[str, str] | None:
    target = event.target
    if event.action != "push" or not target.tag:
        return None
    if target.repository is None or target.digest is None:
        return None
    return target.repository, target.digest


async def prefetch_manifests(
    ctx: EventContext, registries: list[Registry], stored: Sequence[dict[str, Any]]
) -> None:
    """Ask the registry about the pushed manifests of a batch (its events' stored JSON),
    outside any transaction."""
    ctx.manifests.clear()
    wanted: dict[tuple[str, str], Registry] = {}
    for data in stored:
        try:
            event = stored_event(data)
        except EventRefused:
            continue  # handling it fails it
        key = _push_key(event)
        registry = _match_registry(registries, event) if key is not None else None
        if key is not None and registry is not None:
            wanted.setdefault(key, registry)
    limit = asyncio.Semaphore(PREFETCH_CONCURRENCY)

    async def inspect(key: tuple[str, str], registry: Registry) -> None:
        async with limit:
            try:
                ctx.manifests[key] = await ctx.client_for(registry).manifest(*key)
            except ManifestNotFound:
                ctx.manifests[key] = NOT_SERVED
            except RegistryError as exc:
                logger.warning("cannot inspect %s@%s: %s", key[0], key[1], exc)
                ctx.manifests[key] = None

    await asyncio.gather(*(inspect(key, registry) for key, registry in wanted.items()))


def _timestamp(event: Event) -> datetime:
    """The registry's time of the event, else now."""
    return event.occurred_at or utcnow()


def _match_registry(registries: list[Registry], event: Event) -> Registry | None:
    host = event.request_host
    for registry in registries:
        if host in (registry.hostname, registry.external_hostname):
            return registry
    if len(registries) == 1:
        # Behind a proxy the Host header may differ; with one registry there is no doubt.
        return registries[0]
    return None


async def batch_registries(session: AsyncSession, ctx: EventContext) -> list[Registry]:
    """Every registry, read once per batch."""
    if ctx.batch.registries is None:
        ctx.batch.registries = await queries.registries(session)
    return ctx.batch.registries


async def _registry_for(session: AsyncSession, ctx: EventContext, event: Event) -> Registry:
    registry = _match_registry(await batch_registries(session, ctx), event)
    if registry is None:
        raise EventSkipped(f"event from an unknown registry host {event.request_host!r}")
    return registry


def _split(full_name: str) -> tuple[str | None, str]:
    if not is_repository_name(full_name):
        raise EventSkipped(f"invalid repository name {full_name!r}")
    head, sep, rest = full_name.partition("/")
    return (head, rest) if sep else (None, full_name)


async def _namespace(
    session: AsyncSession,
    ctx: EventContext,
    registry: Registry,
    name: str | None,
    actor: Actor | None,
    create: bool,
) -> Namespace | None:
    key = (registry.id, name)
    namespace = ctx.batch.namespaces.get(key)
    if namespace is not None:
        return namespace
    namespace = await namespaces.namespace_by_name(session, registry.id, name)
    if namespace is None and create and name is not None:
        if not namespaces.is_valid_name(name):
            raise EventSkipped(f"invalid namespace name {name!r}")
        # The token service grants a push into a missing namespace to administrators only; an
        # event saying otherwise was not written by the registry (or came with a forged actor).
        principal = actor.principal() if actor else ANONYMOUS
        if not policy.can_push(principal, policy.UNKNOWN_NAMESPACE, ctx.settings):
            raise EventSkipped(
                f"{_actor_name(actor)} may not push to the missing namespace {name!r}"
            )
        namespace = await namespaces.find_or_create_pushed_namespace(
            session, registry, name, actor.id if actor else None
        )
    if namespace is not None:
        ctx.batch.namespaces[key] = namespace
    return namespace


async def _repository(
    session: AsyncSession, ctx: EventContext, namespace: Namespace, name: str, create: bool
) -> Repository | None:
    key = (namespace.id, name)
    repository = ctx.batch.repositories.get(key)
    if repository is not None:
        return repository
    if create:
        repository = await repositories.find_or_create_repository(session, namespace, name)
    else:
        repository = await queries.repository_by_name(session, namespace.id, name)
    if repository is not None:
        ctx.batch.repositories[key] = repository
    return repository


def _actor_name(actor: Actor | None) -> str:
    return "an unknown user" if actor is None else repr(actor.username)


async def _actor(session: AsyncSession, ctx: EventContext, event: Event) -> Actor | None:
    name = event.actor_name
    if not name:
        return None
    if name not in ctx.batch.actors:
        row = await queries.actor_columns(session, name)
        ctx.batch.actors[name] = None if row is None else Actor(*row)
    return ctx.batch.actors[name]


async def _check_push(
    session: AsyncSession, ctx: EventContext, namespace: Namespace, actor: Actor | None
) -> None:
    """The token service's rule (policy.can_push) for an existing namespace: a push it would not
    have let the actor make is not recorded."""
    principal = ANONYMOUS
    role: Role | None = None
    if actor is not None:
        principal = actor.principal()
        key = (namespace.id, actor.id)
        if key not in ctx.batch.roles:
            ctx.batch.roles[key] = await queries.team_role(session, namespace.team_id, actor.id)
        role = ctx.batch.roles[key]
    facts = policy.NamespaceFacts(
        id=namespace.id, visibility=namespace.visibility, global_=namespace.global_, role=role
    )
    if not policy.can_push(principal, facts, ctx.settings):
        label = "the global namespace" if namespace.global_ else f"namespace {namespace.name!r}"
        raise EventSkipped(f"{_actor_name(actor)} may not push to {label}")


async def _enqueue_webhooks(
    session: AsyncSession,
    ctx: EventContext,
    namespace_id: int,
    kind: webhooks.EventKind,
    event: Event,
) -> None:
    """The webhooks receive the event as the registry sent it."""
    webhook_ids = ctx.batch.webhook_ids.get(namespace_id)
    if webhook_ids is None:
        webhook_ids = await webhooks.enabled_webhook_ids(session, namespace_id)
        ctx.batch.webhook_ids[namespace_id] = webhook_ids
    await webhooks.enqueue(session, namespace_id, kind, event.payload, webhook_ids=webhook_ids)


async def handle_push(session: AsyncSession, ctx: EventContext, event: Event) -> None:
    tag_name, digest = event.target.tag, event.target.digest
    if not tag_name or digest is None:
        return  # pushed by digest (an image of a list, say): no tag to record
    registry = await _registry_for(session, ctx, event)
    actor = await _actor(session, ctx, event)
    full_name = _repository_name(event)
    namespace_name, repository_name = _split(full_name)
    key = (full_name, digest)
    if key not in ctx.manifests:
        ctx.manifests[key] = await _inspect(ctx, registry, key)
    prefetched = ctx.manifests[key]
    if prefetched == NOT_SERVED:
        # The registry's word is what counts: a tag for a manifest it does not serve is a
        # forged event (or one whose manifest was deleted since), never something to show.
        logger.warning(
            "registry event %s skipped: the registry does not serve %s@%s",
            event.id,
            key[0],
            key[1],
        )
        raise EventSkipped(f"the registry does not serve {key[0]}@{key[1]}")
    info = prefetched if isinstance(prefetched, ManifestInfo) else None
    namespace = await _namespace(session, ctx, registry, namespace_name, actor, create=True)
    if namespace is None:
        raise EventSkipped("the registry has no global namespace")
    await _check_push(session, ctx, namespace, actor)
    repository = await _repository(session, ctx, namespace, repository_name, create=True)
    assert repository is not None
    pushed_at = _timestamp(event)
    # Most pushes are of a new tag: inserted at once, and read first only when it exists
    # already (a statement fewer for most pushes).
    values = _tag_values(event, digest, actor, info, pushed_at)
    tag_id = await queries.insert_new_tag(session, repository.id, tag_name, values)
    if tag_id is None:
        tag = await queries.tag_by_name(session, repository.id, tag_name)
        if (
            tag is not None
            and tag.digest == digest
            and tag.username is None
            and tag.user_id is None
        ):
            # The catalog sync imported this very push while its event waited (the sync may
            # have asked the registry just before the push, so its stamp can be the older one).
            # One push, recorded once: the event only names who pushed it, and when.
            await _credit_imported_push(session, repository, tag, actor, event, pushed_at)
            await _enqueue_webhooks(session, ctx, namespace.id, "push", event)
            return
        if tag is not None and tag.pushed_at is not None and tag.pushed_at >= pushed_at:
            # Recorded already (a newer push, or the catalog sync saw the tag first). The push
            # still happened: its webhooks fire all the same (each event is handled once).
            await _enqueue_webhooks(session, ctx, namespace.id, "push", event)
            return
        if tag is None:
            tag_id = await queries.insert_tag(session, repository.id, tag_name, values)
        else:
            for column, value in values.items():
                setattr(tag, column, value)
            tag_id = tag.id
    await activities.record_now(
        session,
        "repository.push",
        trackable_type="Repository",
        trackable_id=repository.id,
        owner_id=actor.id if actor else None,
        recipient_type="Tag",
        recipient_id=tag_id,
        parameters={"tag_name": tag_name, "digest": digest},
    )
    await _enqueue_webhooks(session, ctx, namespace.id, "push", event)


def _repository_name(event: Event) -> str:
    """The event's repository. Only events that name one are stored (`service.is_relevant`):
    a stored row without it was changed since, and fails like any row that is no event."""
    if event.target.repository is None:
        raise EventRefused("event.target.repository must be a string")
    return event.target.repository


def _tag_values(
    event: Event, digest: str, actor: Actor | None, info: ManifestInfo | None, pushed_at: datetime
) -> dict[str, Any]:
    """A pushed tag's columns (the event's size is the manifest's own: `info` has the image's)."""
    return {
        "digest": digest,
        "media_type": info.media_type if info else event.target.media_type,
        "image_id": info.image_id if info else None,
        "size": info.size if info else None,
        "user_id": actor.id if actor else None,
        "username": actor.username if actor else event.actor_name,
        "pushed_at": pushed_at,
        "marked": False,
    }


async def _credit_imported_push(
    session: AsyncSession,
    repository: Repository,
    tag: Tag,
    actor: Actor | None,
    event: Event,
    pushed_at: datetime,
) -> None:
    tag.user_id = actor.id if actor else None
    tag.username = actor.username if actor else event.actor_name
    tag.pushed_at = pushed_at
    if actor is None:
        return
    # The sync's activity for it gets its owner.
    await queries.credit_push_activity(session, repository.id, tag.id, actor.id)


async def _inspect(
    ctx: EventContext, registry: Registry, key: tuple[str, str]
) -> ManifestInfo | str | None:
    """A manifest the batch did not prefetch, asked now (see `prefetch_manifests`)."""
    try:
        return await ctx.client_for(registry).manifest(*key)
    except ManifestNotFound:
        return NOT_SERVED
    except RegistryError as exc:
        logger.warning("cannot inspect %s@%s: %s", key[0], key[1], exc)
        return None


async def _find_repository(
    session: AsyncSession, ctx: EventContext, event: Event
) -> tuple[Namespace, Repository] | None:
    registry = await _registry_for(session, ctx, event)
    namespace_name, repository_name = _split(_repository_name(event))
    namespace = await _namespace(session, ctx, registry, namespace_name, None, create=False)
    if namespace is None:
        return None
    repository = await _repository(session, ctx, namespace, repository_name, create=False)
    return None if repository is None else (namespace, repository)


async def handle_pull(session: AsyncSession, ctx: EventContext, event: Event) -> None:
    found = await _find_repository(session, ctx, event)
    if found is None:
        return
    _, repository = found
    target = event.target
    # By tag when pulled by tag, else by digest.
    await queries.record_pull(
        session, repository.id, _timestamp(event), tag=target.tag or None, digest=target.digest
    )


async def handle_delete(session: AsyncSession, ctx: EventContext, event: Event) -> None:
    """A manifest deleted by digest removes its tags; the registry's per-tag follow-up event
    removes that one tag. Neither touches a tag pushed again after the delete."""
    found = await _find_repository(session, ctx, event)
    if found is None:
        return
    namespace, repository = found
    target = event.target
    deleted_at = _timestamp(event)
    if target.digest is None and target.tag is None:
        return
    actor = await _actor(session, ctx, event)
    # By digest when it has one, else by tag.
    tags = await queries.tags_deleted_by(
        session, repository.id, deleted_at, digest=target.digest, tag=target.tag
    )
    if not tags:
        return  # the per-tag follow-up of a delete by digest: its tag went with the digest
    # The registry's own event is what the webhooks receive, once.
    await _enqueue_webhooks(session, ctx, namespace.id, "delete", event)
    removed = await repositories.forget_tags(
        session, namespace, repository, tags, actor_id=actor.id if actor else None, notify=False
    )
    if removed:  # emptied: the repository went, and a later push creates it anew
        ctx.batch.repositories.pop((namespace.id, repository.name), None)


HANDLERS = {"push": handle_push, "pull": handle_pull, "delete": handle_delete}


async def handle(session: AsyncSession, ctx: EventContext, data: dict[str, Any]) -> None:
    """Handle one stored event (its row's JSON). A row that no longer validates raises
    `EventRefused`: it fails like any event that cannot be handled, and is retried, then given
    up (events.worker)."""
    event = stored_event(data)
    handler = HANDLERS.get(event.action)
    if handler is not None:
        await handler(session, ctx, event)
