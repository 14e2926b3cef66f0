"""Sending the outbox: claim due deliveries, send them outside any transaction, record.

Each delivery goes through three short steps:
1. claim (one transaction): lease the oldest due delivery of each webhook that has none in
   flight, webhooks in turn (`repository.claim_due`); on PostgreSQL `FOR UPDATE SKIP LOCKED`,
   so concurrent senders never claim the same row;
2. send (no transaction, no connection held), bounded by `webhooks.timeout` in total;
3. record (one transaction): an attempt row, and the delivery's new state (delivered; or a retry
   after `backoff_base * 2**(n-1)` seconds; or failed after `max_attempts`).

`run_sender` keeps up to `webhooks.concurrency` deliveries in flight: a slot that frees up is
filled at once (no batch waits for its slowest request), and since a webhook has one request in
flight at a time and the webhook served longest ago goes first, a flooded or slow webhook takes
one slot, not the queue. Another namespace's delivery waits for at most one free slot.

A sender that dies between 1 and 3 leaves a leased row; it is due again when the lease ends, so
a delivery is sent at least once (receivers deduplicate with `X-Portus-Delivery`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from app.core.crypto import InvalidToken, secret_box
from app.core.db import session_scope, utcnow
from app.core.jobs import JobContext
from app.core.queue import Backoff
from app.models import (
    DeliveryStatus,
    Webhook,
    WebhookAttempt,
    WebhookContentType,
    WebhookDelivery,
    WebhookMethod,
)
from app.webhooks import repository
from app.webhooks.client import LocalNetworkRefused, webhook_http_client
from app.webhooks.schemas import MASK, is_sensitive_header

logger = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 10.0  # process clocks may differ a little; the database is one
IDLE_POLL_SECONDS = 5.0  # other processes may enqueue without waking this one
MIN_WAIT_SECONDS = 0.05
MAX_LOGGED_BODY = 16 * 1024
USER_AGENT = "Portus-Webhooks/2.4"


@dataclass(frozen=True)
class Job:
    """A claimed delivery with everything needed to send it (no ORM objects cross the send)."""

    delivery_id: int
    uuid: str
    event: str
    payload: dict[str, Any]
    url: str
    method: WebhookMethod
    content_type: WebhookContentType
    username: str | None
    password: str | None
    secret: str
    headers: list[tuple[str, str]]
    problem: str | None = None  # set when the job cannot be sent at all
    webhook_id: int = 0
    lease_until: datetime | None = None  # the claim's lease, on the delivery and its webhook


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    job: Job
    request: OutgoingRequest | None
    status: int | None
    response_headers: dict[str, str] | None
    response_body: str | None
    duration_ms: int
    error: str | None

    @property
    def success(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def signature(secret: str, signed: bytes) -> str:
    """`X-Portus-Signature-256`: HMAC-SHA256 of the exact bytes, keyed by the webhook secret."""
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _fields(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """Top-level fields as form/query pairs; nested values as compact JSON."""
    return [
        (key, value if isinstance(value, str) else json.dumps(value, separators=(",", ":")))
        for key, value in payload.items()
    ]


def build_request(job: Job) -> OutgoingRequest:
    """GET puts the fields in the query string (like Portus) and signs the whole query string;
    POST sends JSON or form fields and signs the body."""
    headers: dict[str, str] = {}
    if job.method is WebhookMethod.GET:
        query = urlencode(_fields(job.payload))
        existing = urlsplit(job.url).query
        url = job.url + ("&" if existing else "?" if "?" not in job.url else "") + query
        signed = urlsplit(url).query.encode()
        body = b""
    else:
        url = job.url
        if job.content_type is WebhookContentType.form:
            body = urlencode(_fields(job.payload)).encode()
        else:
            body = json.dumps(job.payload, separators=(",", ":")).encode()
        headers["Content-Type"] = job.content_type.mime
        signed = body
    headers.update(dict(job.headers))
    if job.username:
        pair = f"{job.username}:{job.password or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    headers["User-Agent"] = USER_AGENT
    headers["X-Portus-Delivery"] = job.uuid
    headers["X-Portus-Event"] = job.event
    headers["X-Portus-Signature-256"] = signature(job.secret, signed)
    return OutgoingRequest(job.method.name, url, headers, body)


def backoff_seconds(base: float, cap: float, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based) of a cycle."""
    return Backoff(first=base, cap=cap).seconds(attempt)


# --- 1. claim ----------------------------------------------------------------------------------
async def _claim(ctx: JobContext, limit: int) -> list[Job]:
    now = utcnow()
    # One request per delivery, sent as soon as it is claimed: its timeout, plus a margin.
    lease = ctx.settings.webhooks.timeout + LEASE_MARGIN_SECONDS
    lease_until = now + timedelta(seconds=lease)
    async with session_scope(ctx.sessionmaker) as session:
        rows = await repository.claim_due(session, now=now, lease_until=lease_until, limit=limit)
        if not rows:
            return []
        headers = await repository.headers_by_webhook(session, {w.id for _, w in rows})
    box = secret_box(ctx.settings)
    jobs = []
    for delivery, webhook in rows:
        problem = None
        try:
            secret = box.decrypt(webhook.secret_encrypted)
            password = (
                box.decrypt(webhook.password_encrypted) if webhook.password_encrypted else None
            )
        except InvalidToken:
            secret, password = "", None
            problem = "cannot decrypt the webhook's secrets: secret_key_base changed since"
        job = _job(delivery, webhook, headers[webhook.id], secret, password, problem)
        jobs.append(dataclasses.replace(job, lease_until=lease_until))
    return jobs


def _job(
    delivery: WebhookDelivery,
    webhook: Webhook,
    headers: list[tuple[str, str]],
    secret: str,
    password: str | None,
    problem: str | None,
) -> Job:
    return Job(
        delivery_id=delivery.id,
        uuid=delivery.uuid,
        event=delivery.event,
        payload=delivery.payload,
        url=webhook.url,
        method=webhook.request_method,
        content_type=webhook.content_type,
        username=webhook.username,
        password=password,
        secret=secret,
        headers=headers,
        problem=problem,
        webhook_id=webhook.id,
    )


# --- 2. send -----------------------------------------------------------------------------------
async def _send(ctx: JobContext, http: httpx.AsyncClient, job: Job) -> Outcome:
    if job.problem is not None:
        return Outcome(job, None, None, None, None, 0, job.problem)
    request = build_request(job)
    timeout = ctx.settings.webhooks.timeout
    started = time.perf_counter()
    status: int | None = None
    response_headers: dict[str, str] | None = None
    body: str | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            async with http.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=request.body or None,
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
                response_headers = dict(response.headers.items())
                raw = bytearray()
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) > MAX_LOGGED_BODY:
                        break
                body = _truncate(bytes(raw))
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except LocalNetworkRefused as exc:
        # The log says only that it was refused (no address: that would be a DNS oracle);
        # the server's own log says more, for the administrator.
        logger.warning(
            "webhook delivery %s refused: %s resolves to %s", job.uuid, exc.host, exc.address
        )
        error = LocalNetworkRefused.MESSAGE
    except Exception as exc:  # a broken receiver is a failed attempt, never a crashed sender
        error = f"{exc.__class__.__name__}: {exc}"[:2000]
    duration = round((time.perf_counter() - started) * 1000)
    if error is not None and status is not None:
        error = f"response cut short: {error}"
    return Outcome(job, request, status, response_headers, body, duration, error)


def _truncate(raw: bytes) -> str:
    text = raw[:MAX_LOGGED_BODY].decode("utf-8", errors="replace")
    return text + "\n[truncated]" if len(raw) > MAX_LOGGED_BODY else text


# --- 3. record ---------------------------------------------------------------------------------
def _logged_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: MASK if is_sensitive_header(name) else value for name, value in headers.items()}


async def _record(ctx: JobContext, outcomes: Sequence[Outcome]) -> None:
    config = ctx.settings.webhooks
    now = utcnow()
    async with session_scope(ctx.sessionmaker) as session:
        ids = [outcome.job.delivery_id for outcome in outcomes]
        found = await repository.deliveries_by_id(session, ids)
        deliveries = {delivery.id: delivery for delivery in found}
        for outcome in outcomes:
            delivery = deliveries.get(outcome.job.delivery_id)
            if delivery is None:
                continue  # the webhook was deleted meanwhile
            delivery.attempts += 1
            delivery.cycle_attempts += 1
            delivery.lease_until = None
            delivery.last_status_code = outcome.status
            request = outcome.request
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    number=delivery.attempts,
                    request_method=request.method if request else outcome.job.method.name,
                    request_url=request.url if request else outcome.job.url,
                    request_headers=_logged_headers(request.headers) if request else {},
                    request_body=_truncate(request.body) if request else "",
                    response_status=outcome.status,
                    response_headers=outcome.response_headers,
                    response_body=outcome.response_body,
                    duration_ms=outcome.duration_ms,
                    error=outcome.error,
                    created_at=now,
                )
            )
            if outcome.success:
                delivery.status = DeliveryStatus.delivered
                delivery.delivered_at = now
                delivery.next_attempt_at = None
            elif delivery.cycle_attempts >= config.max_attempts:
                delivery.status = DeliveryStatus.failed
                delivery.next_attempt_at = None
                logger.warning(
                    "webhook delivery %s failed after %d attempts: %s",
                    delivery.uuid,
                    delivery.cycle_attempts,
                    outcome.error or f"HTTP {outcome.status}",
                )
            else:
                wait = backoff_seconds(
                    config.backoff_base, config.backoff_max, delivery.cycle_attempts
                )
                delivery.next_attempt_at = now + timedelta(seconds=wait)
        # The deliveries' rows first, then the webhooks': the claim's order, so that a sender
        # recording and another claiming cannot deadlock on PostgreSQL.
        await session.flush()
        for outcome in outcomes:
            if outcome.job.lease_until is not None:
                await repository.release_webhook(
                    session, outcome.job.webhook_id, outcome.job.lease_until
                )


async def _deliver(ctx: JobContext, http: httpx.AsyncClient, job: Job) -> None:
    await _record(ctx, [await _send(ctx, http, job)])


async def deliver_due(ctx: JobContext, http: httpx.AsyncClient, *, limit: int | None = None) -> int:
    """One claim (at most one delivery per webhook, at most `limit`, by default
    `webhooks.concurrency`), sent at once with `http`, a `webhook_http_client` made from the
    same settings, each recorded when it is answered; returns how many were attempted."""
    jobs = await _claim(ctx, limit or ctx.settings.webhooks.concurrency)
    await asyncio.gather(*(_deliver(ctx, http, job) for job in jobs))
    return len(jobs)


async def seconds_until_due(ctx: JobContext) -> float:
    """Until something may be claimable (0: now), at most `IDLE_POLL_SECONDS`."""
    now = utcnow()
    async with session_scope(ctx.sessionmaker) as session:
        due_at: datetime | None = await repository.next_due_at(session, now)
    if due_at is None:
        return IDLE_POLL_SECONDS
    return max(0.0, min(IDLE_POLL_SECONDS, (due_at - now).total_seconds()))


async def run_sender(
    ctx: JobContext, wake: asyncio.Event, stop: asyncio.Event | None = None
) -> None:
    """Deliver until cancelled (or `stop` is set), `webhooks.concurrency` at a time."""
    # Not ctx.http: that one reaches the registry, which is often on localhost.
    async with webhook_http_client(ctx.settings.webhooks) as http:
        await Sender(ctx, http).run(wake, stop)


@dataclass
class Sender:
    """Keeps up to `webhooks.concurrency` deliveries in flight. After each claim it sleeps until
    a delivery in flight ends (its webhook may have more), a wake-up (a new delivery was
    committed), the next due time, or the poll (other processes enqueue without waking this
    one)."""

    ctx: JobContext
    http: httpx.AsyncClient
    running: set[asyncio.Task[None]] = field(default_factory=set)

    async def _one(self, job: Job) -> None:
        try:
            await _deliver(self.ctx, self.http, job)
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease runs out and the delivery is sent again
            logger.exception("webhook delivery %s could not be recorded", job.uuid)

    async def _fill(self, wake: asyncio.Event) -> float | None:
        """Claim for the free slots; how long to wait at most (None: until a slot frees up)."""
        free = self.ctx.settings.webhooks.concurrency - len(self.running)
        if free <= 0:
            return None
        wake.clear()  # before looking: a delivery committed after this wakes us again
        try:
            jobs = await _claim(self.ctx, free)
            for job in jobs:
                self.running.add(asyncio.create_task(self._one(job)))
            if len(jobs) == free:
                return None
            # Fewer due than slots: what remains waits for its webhook's request in flight,
            # a back-off, or a lease (the floor keeps a row another sender is claiming
            # right now from spinning this loop).
            return max(MIN_WAIT_SECONDS, await seconds_until_due(self.ctx))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("webhook sender claim failed")
            return IDLE_POLL_SECONDS

    async def run(self, wake: asyncio.Event, stop: asyncio.Event | None = None) -> None:
        try:
            while stop is None or not stop.is_set():
                delay = await self._fill(wake)
                waiters: set[asyncio.Future[Any]] = set(self.running)
                signals = []
                if delay is not None:  # a free slot (when all are busy, a wake-up can wait)
                    signals.append(asyncio.ensure_future(wake.wait()))
                if stop is not None:
                    signals.append(asyncio.ensure_future(stop.wait()))
                try:
                    await asyncio.wait(
                        waiters | set(signals), timeout=delay, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    for signal in signals:
                        signal.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await signal
                self.running = {task for task in self.running if not task.done()}
            # Stopped: the requests in flight end within their timeout and are recorded.
            if self.running:
                await asyncio.wait(self.running)
        finally:
            for task in self.running:
                task.cancel()  # cancelled: their leases run out and they are sent again
            for task in self.running:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.running.clear()
