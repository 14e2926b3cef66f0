"""`/api/v1/namespaces/{id}/webhooks...`: namespace webhooks, their headers and deliveries.

Who may do what (reference §6.2): list and show for administrators and members of the
namespace's team; create, delete and headers for administrators and owners when
`user_permission.create_webhook` is on; update, toggle, re-send and secret rotation for
administrators and owners when `user_permission.manage_webhook` is on. A namespace the caller
cannot see is a 404, one they see without the right is a 403.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response, status

from app.auth.dependencies import CurrentUser
from app.authz import policy
from app.core.db import DbSession
from app.core.openapi import error_responses
from app.core.pagination import Pagination, set_page_headers
from app.core.params import ResourceId
from app.core.state import SettingsDep, State
from app.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookHeader
from app.webhooks import service
from app.webhooks.schemas import (
    MASK,
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    WebhookCreate,
    WebhookHeaderCreate,
    WebhookHeaderRead,
    WebhookRead,
    WebhookUpdate,
    WebhookWithSecret,
    is_sensitive_header,
)

router = APIRouter(prefix="/namespaces/{namespace_id}/webhooks", tags=["webhooks"])

ERRORS = error_responses(401, 403, 404, 422)


def _read(webhook: Webhook, flags: policy.WebhookFlags) -> WebhookRead:
    return WebhookRead(
        id=webhook.id,
        namespace_id=webhook.namespace_id,
        name=webhook.name,
        url=webhook.url,
        request_method=webhook.request_method.name,
        content_type=webhook.content_type.mime,
        username=webhook.username,
        has_password=webhook.password_encrypted is not None,
        enabled=webhook.enabled,
        created_at=webhook.created_at,
        updated_at=webhook.updated_at,
        updatable=flags.updatable,
        destroyable=flags.destroyable,
    )


def _with_secret(webhook: Webhook, flags: policy.WebhookFlags, secret: str) -> WebhookWithSecret:
    return WebhookWithSecret(**_read(webhook, flags).model_dump(), secret=secret)


def _header(header: WebhookHeader, *, reveal: bool) -> WebhookHeaderRead:
    # Credential-like names stay write-only even for owners (as the password does).
    value = header.value if reveal and not is_sensitive_header(header.name) else MASK
    return WebhookHeaderRead(
        id=header.id, webhook_id=header.webhook_id, name=header.name, value=value
    )


def _delivery(delivery: WebhookDelivery) -> DeliveryRead:
    return DeliveryRead(
        id=delivery.id,
        uuid=delivery.uuid,
        webhook_id=delivery.webhook_id,
        event=delivery.event,
        status=delivery.status.name,
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
    )


def _masked(headers: dict[str, str]) -> dict[str, str]:
    return dict.fromkeys(headers, MASK)


def _attempt(attempt: WebhookAttempt, *, reveal: bool) -> AttemptRead:
    read = AttemptRead.model_validate(attempt, from_attributes=True)
    if reveal:
        return read
    response_headers = read.response_headers
    return read.model_copy(
        update={
            "request_headers": _masked(read.request_headers),
            "response_headers": None if response_headers is None else _masked(response_headers),
        }
    )


# --- webhooks ----------------------------------------------------------------------------------
@router.get("", responses=ERRORS)
async def list_webhooks(
    namespace_id: ResourceId,
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[WebhookRead]:
    total, webhooks = await service.list_webhooks(
        session,
        settings,
        principal,
        namespace_id,
        offset=pagination.offset,
        limit=pagination.limit,
        order=pagination.order_by(service.WEBHOOK_SORT),
    )
    set_page_headers(request, response, pagination, total)
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return [_read(webhook, flags) for webhook in webhooks]


@router.post("", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_webhook(
    namespace_id: ResourceId,
    body: WebhookCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookWithSecret:
    """The answer holds the signing secret of `X-Portus-Signature-256`, shown only this once.
    The password is stored encrypted and never returned (`has_password` says whether one is set).
    """
    # Before the session's first statement: a DNS lookup holds no transaction.
    problem = await service.url_problem(settings, body.url)
    webhook, secret = await service.create_webhook(
        session, settings, principal, namespace_id, body, problem
    )
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return _with_secret(webhook, flags, secret)


@router.get("/{webhook_id}", responses=ERRORS)
async def get_webhook(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookRead:
    webhook = await service.get_webhook(session, settings, principal, namespace_id, webhook_id)
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return _read(webhook, flags)


@router.put("/{webhook_id}", responses=ERRORS)
async def update_webhook(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    body: WebhookUpdate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookRead:
    """Only the given fields change; `username: ""` or `password: ""` remove them."""
    # Before the session's first statement: a DNS lookup holds no transaction.
    problem = await service.url_problem(settings, body.url)
    webhook = await service.update_webhook(
        session, settings, principal, namespace_id, webhook_id, body, problem
    )
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return _read(webhook, flags)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS)
async def delete_webhook(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> None:
    await service.delete_webhook(session, settings, principal, namespace_id, webhook_id)


@router.put("/{webhook_id}/toggle_enabled", responses=ERRORS)
async def toggle_webhook(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookRead:
    """Disabled webhooks get no new deliveries; pending ones wait until it is enabled again."""
    webhook = await service.toggle_webhook(session, settings, principal, namespace_id, webhook_id)
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return _read(webhook, flags)


@router.post("/{webhook_id}/rotate_secret", responses=ERRORS)
async def rotate_webhook_secret(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookWithSecret:
    """A new signing secret (shown only now); every later request, retries included, uses it."""
    webhook, secret = await service.rotate_secret(
        session, settings, principal, namespace_id, webhook_id
    )
    flags = await service.webhook_flags(session, settings, principal, namespace_id)
    return _with_secret(webhook, flags, secret)


# --- headers -----------------------------------------------------------------------------------
@router.get("/{webhook_id}/headers", responses=ERRORS)
async def list_webhook_headers(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> list[WebhookHeaderRead]:
    """Values are shown to administrators and the namespace's owners, as `********` to other
    members; credential-like ones (Authorization, Cookie, *token*, *secret*, ...) to nobody."""
    listed = await service.list_headers(session, settings, principal, namespace_id, webhook_id)
    return [_header(header, reveal=listed.reveal) for header in listed.headers]


@router.post("/{webhook_id}/headers", status_code=status.HTTP_201_CREATED, responses=ERRORS)
async def create_webhook_header(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    body: WebhookHeaderCreate,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> WebhookHeaderRead:
    """A header sent with every request (name unique per webhook, case-insensitively)."""
    added = await service.add_header(
        session, settings, principal, namespace_id, webhook_id, name=body.name, value=body.value
    )
    return _header(added.headers[0], reveal=added.reveal)


@router.delete(
    "/{webhook_id}/headers/{header_id}", status_code=status.HTTP_204_NO_CONTENT, responses=ERRORS
)
async def delete_webhook_header(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    header_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> None:
    await service.delete_header(session, settings, principal, namespace_id, webhook_id, header_id)


# --- deliveries --------------------------------------------------------------------------------
@router.get("/{webhook_id}/deliveries", responses=ERRORS)
async def list_webhook_deliveries(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    request: Request,
    response: Response,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
    pagination: Pagination,
) -> list[DeliveryRead]:
    """Newest first (unless `sort_attr` is given)."""
    order = None if pagination.sort_attr is None else pagination.order_by(service.DELIVERY_SORT)
    total, deliveries = await service.list_deliveries(
        session,
        settings,
        principal,
        namespace_id,
        webhook_id,
        offset=pagination.offset,
        limit=pagination.limit,
        order=order,
    )
    set_page_headers(request, response, pagination, total)
    return [_delivery(delivery) for delivery in deliveries]


@router.get("/{webhook_id}/deliveries/{delivery_id}", responses=ERRORS)
async def get_webhook_delivery(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    delivery_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    principal: CurrentUser,
) -> DeliveryDetail:
    """The payload and every attempt: request (credential headers masked; every header value
    masked for members other than owners), response (bodies cut at 16 KiB), duration and error."""
    log = await service.get_delivery(
        session, settings, principal, namespace_id, webhook_id, delivery_id
    )
    return DeliveryDetail(
        **_delivery(log.delivery).model_dump(),
        payload=log.delivery.payload,
        attempt_log=[_attempt(attempt, reveal=log.reveal) for attempt in log.attempts],
    )


@router.put(
    "/{webhook_id}/deliveries/{delivery_id}",
    responses=error_responses(401, 403, 404, (409, "A sender is sending it right now"), 422),
)
async def resend_webhook_delivery(
    namespace_id: ResourceId,
    webhook_id: ResourceId,
    delivery_id: ResourceId,
    session: DbSession,
    settings: SettingsDep,
    state: State,
    principal: CurrentUser,
    background: BackgroundTasks,
) -> DeliveryRead:
    """Re-send (Portus's "retrigger"): the same payload and delivery id, with the webhook's
    current URL, method, credentials, headers and secret, as a new cycle of attempts."""
    delivery = await service.resend_delivery(
        session, settings, principal, namespace_id, webhook_id, delivery_id
    )
    # Runs after the response, so after the commit: the sender will see the row due.
    background.add_task(state.wake_webhook_sender)
    return _delivery(delivery)
