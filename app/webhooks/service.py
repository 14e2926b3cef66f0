"""Namespace webhooks: the outbox that the event processor fills, and the API's operations."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.crypto import secret_box
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.models import (
    DeliveryStatus,
    Namespace,
    Webhook,
    WebhookAttempt,
    WebhookContentType,
    WebhookDelivery,
    WebhookHeader,
    WebhookMethod,
)
from app.models.enums import FORM_MIME
from app.namespaces import service as namespaces
from app.webhooks import repository
from app.webhooks.client import url_refusal
from app.webhooks.schemas import WebhookCreate, WebhookUpdate

EventKind = Literal["push", "delete"]
SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


# --- the outbox --------------------------------------------------------------------------------
async def enabled_webhook_ids(session: AsyncSession, namespace_id: int) -> Sequence[int]:
    return await repository.enabled_webhook_ids(session, namespace_id)


async def enqueue(
    session: AsyncSession,
    namespace_id: int,
    kind: EventKind,
    payload: dict[str, Any],
    *,
    webhook_ids: Sequence[int] | None = None,
) -> int:
    """One pending delivery per enabled webhook of the namespace, in the caller's transaction:
    it exists if and only if the event's effects commit. One query when there are no webhooks;
    none when the caller passes the namespace's `enabled_webhook_ids`, read in this transaction
    (the event worker reads them once per batch)."""
    if webhook_ids is None:
        webhook_ids = await repository.enabled_webhook_ids(session, namespace_id)
    if not webhook_ids:
        return 0
    now = utcnow()
    await repository.insert_deliveries(
        session,
        [
            {
                "webhook_id": webhook_id,
                "uuid": str(uuid.uuid4()),
                "event": kind,
                "payload": payload,
                "status": DeliveryStatus.pending,
                "attempts": 0,
                "cycle_attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for webhook_id in webhook_ids
        ],
    )
    return len(webhook_ids)


# --- loading, with the permission checks -------------------------------------------------------
Need = Literal["see", "create", "manage"]


@dataclass(frozen=True)
class Scope:
    namespace: Namespace
    facts: policy.NamespaceFacts


async def _scope(
    session: AsyncSession, settings: Settings, principal: Principal, namespace_id: int, need: Need
) -> Scope:
    """The namespace, if the caller may do `need` with its webhooks. A namespace the caller cannot
    see at all is a 404; one they see but may not do this in is a 403."""
    loaded = await namespaces.load(session, principal, namespace_id)
    facts = loaded.facts
    if not policy.can_see_webhooks(principal, facts):
        raise Forbidden(
            "Authorization fails: only members of the namespace's team see its webhooks"
        )
    if need == "create" and not policy.can_create_webhook(principal, facts, settings):
        raise Forbidden("Authorization fails: you may not create or delete webhooks here")
    if need == "manage" and not policy.can_manage_webhook(principal, facts, settings):
        raise Forbidden("Authorization fails: you may not change webhooks here")
    return Scope(loaded.namespace, facts)


async def webhook_flags(
    session: AsyncSession, settings: Settings, principal: Principal, namespace_id: int
) -> policy.WebhookFlags:
    """What the caller may do with the namespace's webhooks (the same for each of them)."""
    scope = await _scope(session, settings, principal, namespace_id, "see")
    return policy.webhook_flags(principal, scope.facts, settings)


async def _webhook(session: AsyncSession, scope: Scope, webhook_id: int) -> Webhook:
    webhook = await repository.get_webhook(session, scope.namespace.id, webhook_id)
    if webhook is None:
        raise NotFound("Not found: no such webhook")
    return webhook


def _record(
    session: AsyncSession, principal: Principal, scope: Scope, webhook: Webhook, key: str
) -> None:
    activities.record(
        session,
        key,
        trackable_type="Webhook",
        trackable_id=webhook.id,
        owner_id=principal.user_id,
        # the feed shows webhook activities to the namespace's team (and the row outlives the
        # webhook it tracks)
        recipient_type="Namespace",
        recipient_id=scope.namespace.id,
        parameters={
            "namespace_id": scope.namespace.id,
            "namespace_name": scope.namespace.name,
            "webhook_name": webhook.name,
            "webhook_url": webhook.url,
            "webhook_host": urlsplit(webhook.url).hostname,
        },
    )


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


WEBHOOK_SORT = repository.WEBHOOK_SORT
DELIVERY_SORT = repository.DELIVERY_SORT


# --- webhooks ----------------------------------------------------------------------------------
async def list_webhooks(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    *,
    offset: int,
    limit: int | None,
    order: list[Any],
) -> tuple[int, Sequence[Webhook]]:
    scope = await _scope(session, settings, principal, namespace_id, "see")
    return await repository.page_webhooks(
        session, scope.namespace.id, offset=offset, limit=limit, order=order
    )


async def get_webhook(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
) -> Webhook:
    scope = await _scope(session, settings, principal, namespace_id, "see")
    return await _webhook(session, scope, webhook_id)


async def url_problem(settings: Settings, url: str | None) -> str | None:
    """Why the sender would refuse `url` now (None: it would not). It may look the host up
    (seconds, at worst): callers ask before their first statement, so that no transaction
    (SQLite's write lock, a PostgreSQL row lock and connection) is held meanwhile. The sender
    still checks at every connection, since DNS answers change."""
    return None if url is None else await url_refusal(url, settings.webhooks)


def _refuse_url(problem: str | None) -> None:
    if problem is not None:
        raise Invalid({"url": [problem]})


def _content_type(mime: str) -> WebhookContentType:
    return WebhookContentType.form if mime == FORM_MIME else WebhookContentType.json


async def create_webhook(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    data: WebhookCreate,
    url_problem: str | None,
) -> tuple[Webhook, str]:
    """The webhook and its signing secret in plaintext (returned this once). `url_problem`:
    `url_problem(settings, data.url)`, asked before the transaction began."""
    scope = await _scope(session, settings, principal, namespace_id, "create")
    limit = settings.webhooks.max_per_namespace
    if await repository.count_webhooks_locked(session, scope.namespace.id) >= limit:
        # Each webhook gets its own turn in the sender: the limit bounds a namespace's share.
        raise Invalid({"webhooks": [f"a namespace has at most {limit} webhooks"]})
    _refuse_url(url_problem)
    box = secret_box(settings)
    secret = new_secret()
    webhook = Webhook(
        namespace_id=scope.namespace.id,
        name=data.name,
        url=data.url,
        request_method=WebhookMethod[data.request_method],
        content_type=_content_type(data.content_type),
        username=data.username or None,
        password_encrypted=box.encrypt(data.password) if data.password else None,
        secret_encrypted=box.encrypt(secret),
        enabled=data.enabled,
    )
    session.add(webhook)
    await session.flush()
    _record(session, principal, scope, webhook, "webhook.create")
    await session.refresh(webhook)
    return webhook, secret


async def update_webhook(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    data: WebhookUpdate,
    url_problem: str | None,
) -> Webhook:
    """`url_problem`: `url_problem(settings, data.url)`, asked before the transaction began; it
    counts only for a changed URL (an unchanged one is not judged again)."""
    scope = await _scope(session, settings, principal, namespace_id, "manage")
    webhook = await _webhook(session, scope, webhook_id)
    was_enabled = webhook.enabled
    fields = data.model_dump(exclude_unset=True)
    for name in ("name", "url", "request_method", "content_type", "enabled"):
        if fields.get(name) is None and name in fields:
            raise Invalid({name: ["must not be null"]})
    if data.name is not None:
        webhook.name = data.name
    if data.url is not None:
        if data.url != webhook.url:
            _refuse_url(url_problem)
        webhook.url = data.url
    if data.request_method is not None:
        webhook.request_method = WebhookMethod[data.request_method]
    if data.content_type is not None:
        webhook.content_type = _content_type(data.content_type)
    if "username" in fields:
        webhook.username = data.username or None
    if "password" in fields:
        password = data.password
        webhook.password_encrypted = secret_box(settings).encrypt(password) if password else None
    if data.enabled is not None:
        webhook.enabled = data.enabled
    await session.flush()
    _record(session, principal, scope, webhook, "webhook.update")
    if webhook.enabled != was_enabled:
        _record(session, principal, scope, webhook, _toggle_key(webhook.enabled))
    await session.refresh(webhook)
    return webhook


def _toggle_key(enabled: bool) -> str:
    return "webhook.enabled" if enabled else "webhook.disabled"


async def toggle_webhook(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
) -> Webhook:
    """Disabled webhooks get no new deliveries; their pending ones wait until re-enabled."""
    scope = await _scope(session, settings, principal, namespace_id, "manage")
    webhook = await _webhook(session, scope, webhook_id)
    webhook.enabled = not webhook.enabled
    await session.flush()
    _record(session, principal, scope, webhook, _toggle_key(webhook.enabled))
    await session.refresh(webhook)
    return webhook


async def delete_webhook(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
) -> None:
    """With its headers and deliveries (the activity keeps its name and URL)."""
    scope = await _scope(session, settings, principal, namespace_id, "create")
    webhook = await _webhook(session, scope, webhook_id)
    _record(session, principal, scope, webhook, "webhook.destroy")
    await session.delete(webhook)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
) -> tuple[Webhook, str]:
    """A new signing secret, effective for every request from now on (pending retries too)."""
    scope = await _scope(session, settings, principal, namespace_id, "manage")
    webhook = await _webhook(session, scope, webhook_id)
    secret = new_secret()
    webhook.secret_encrypted = secret_box(settings).encrypt(secret)
    await session.flush()
    _record(session, principal, scope, webhook, "webhook.update")
    await session.refresh(webhook)
    return webhook, secret


# --- headers -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HeaderList:
    headers: Sequence[WebhookHeader]
    reveal: bool  # the caller may read the values (policy.can_see_webhook_secrets)


async def list_headers(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
) -> HeaderList:
    scope = await _scope(session, settings, principal, namespace_id, "see")
    webhook = await _webhook(session, scope, webhook_id)
    headers = await repository.headers_of(session, webhook.id)
    return HeaderList(headers, policy.can_see_webhook_secrets(principal, scope.facts))


async def add_header(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    *,
    name: str,
    value: str,
) -> HeaderList:
    """The new header alone."""
    scope = await _scope(session, settings, principal, namespace_id, "create")
    webhook = await _webhook(session, scope, webhook_id)
    if await repository.header_name_taken(session, webhook.id, name):
        raise Invalid({"name": ["has already been taken"]})
    header = WebhookHeader(webhook_id=webhook.id, name=name, value=value)
    try:
        async with session.begin_nested():
            session.add(header)
            await session.flush()
    except IntegrityError as exc:  # the same name added concurrently
        raise Invalid({"name": ["has already been taken"]}) from exc
    return HeaderList([header], policy.can_see_webhook_secrets(principal, scope.facts))


async def delete_header(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    header_id: int,
) -> None:
    scope = await _scope(session, settings, principal, namespace_id, "create")
    webhook = await _webhook(session, scope, webhook_id)
    header = await repository.get_header(session, webhook.id, header_id)
    if header is None:
        raise NotFound("Not found: no such header")
    await session.delete(header)
    await session.flush()


# --- deliveries --------------------------------------------------------------------------------
async def list_deliveries(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    *,
    offset: int,
    limit: int | None,
    order: list[Any] | None,
) -> tuple[int, Sequence[WebhookDelivery]]:
    """Newest first unless `order` says otherwise."""
    scope = await _scope(session, settings, principal, namespace_id, "see")
    webhook = await _webhook(session, scope, webhook_id)
    return await repository.page_deliveries(
        session, webhook.id, offset=offset, limit=limit, order=order
    )


@dataclass(frozen=True)
class DeliveryLog:
    delivery: WebhookDelivery
    attempts: Sequence[WebhookAttempt]
    reveal: bool  # the caller may read header values (policy.can_see_webhook_secrets)


async def get_delivery(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    delivery_id: int,
) -> DeliveryLog:
    scope = await _scope(session, settings, principal, namespace_id, "see")
    webhook = await _webhook(session, scope, webhook_id)
    delivery = await repository.get_delivery(session, webhook.id, delivery_id)
    if delivery is None:
        raise NotFound("Not found: no such delivery")
    attempts = await repository.attempts_of(session, delivery.id)
    return DeliveryLog(delivery, attempts, policy.can_see_webhook_secrets(principal, scope.facts))


async def resend_delivery(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    namespace_id: int,
    webhook_id: int,
    delivery_id: int,
) -> WebhookDelivery:
    """Portus's "retrigger": the same payload and delivery id, sent again with the webhook's
    current settings, as a new cycle of attempts (earlier attempts stay in the log)."""
    scope = await _scope(session, settings, principal, namespace_id, "manage")
    webhook = await _webhook(session, scope, webhook_id)
    if not webhook.enabled:
        raise Invalid({"enabled": ["the webhook is disabled: enable it to send deliveries"]})
    delivery = await repository.get_delivery(session, webhook.id, delivery_id)
    if delivery is None:
        raise NotFound("Not found: no such delivery")
    if delivery.lease_until is not None and delivery.lease_until > utcnow():
        # A sender holds it: clearing its lease would let another sender send it too.
        raise Conflict("the delivery is being sent right now: re-send it once this attempt ends")
    delivery.status = DeliveryStatus.pending
    delivery.cycle_attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.lease_until = None
    delivery.delivered_at = None
    await session.flush()
    return delivery
