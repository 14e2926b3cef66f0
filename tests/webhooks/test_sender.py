"""The sender against real HTTP receivers on 127.0.0.1, fed by real registry events."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.crypto import secret_box
from app.core.db import create_engine, create_sessionmaker, session_scope, utcnow
from app.core.keys import load_signing_key
from app.core.security import TokenDigester
from app.jobs.context import TaskContext
from app.models import (
    DeliveryStatus,
    Namespace,
    Registry,
    User,
    Webhook,
    WebhookAttempt,
    WebhookContentType,
    WebhookDelivery,
    WebhookMethod,
)
from app.registry.client import client_factory
from app.webhooks import repository, sender, service
from app.webhooks.client import webhook_http_client
from tests.conftest import ClientFactory, make_settings
from tests.events.test_events import event, post, push, worker_for
from tests.fixtures import factories
from tests.fixtures.database import throwaway_database
from tests.support.auth import admin_headers
from tests.support.network import PretendNetwork
from tests.support.receiver import Blackhole, Receiver

PUBLIC = "8.8.8.8"  # only ever reached through a PretendNetwork route

# The receivers listen on 127.0.0.1: a local-network address, allowed here explicitly.
FAST = {
    "webhooks": {
        "backoff_base": 0.05,
        "backoff_max": 1,
        "timeout": 2,
        "max_attempts": 6,
        "allow_local_network": True,
    }
}


@pytest.fixture
async def client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    """The API with local targets allowed: these tests point webhooks at 127.0.0.1 (the check
    when a webhook is saved is tested in test_webhooks_api.py)."""
    async with make_client(**FAST) as c:
        yield c


@pytest.fixture
async def task_context(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> AsyncIterator[TaskContext]:
    fast = make_settings(settings, **FAST)
    async with httpx.AsyncClient(trust_env=False) as http:
        yield TaskContext(
            fast, sessionmaker, http, client_factory(http, fast, load_signing_key(fast))
        )


@pytest.fixture
async def webhook_http(task_context: TaskContext) -> AsyncIterator[httpx.AsyncClient]:
    """The sender's own client, as `run_sender` opens it (local network allowed here)."""
    async with webhook_http_client(task_context.settings.webhooks) as http:
        yield http


async def personal_namespace_id(session: AsyncSession) -> int:
    user = await session.scalar(select(User).where(User.username == "alice"))
    assert user is not None and user.namespace_id is not None
    return user.namespace_id


async def until_settled(
    ctx: TaskContext, http: httpx.AsyncClient, delivery_id: int, timeout: float = 15
) -> None:
    """Run the sender until the delivery is no longer pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await sender.deliver_due(ctx, http)
        async with ctx.sessionmaker() as session:
            status = await session.scalar(
                select(WebhookDelivery.status).where(WebhookDelivery.id == delivery_id)
            )
        if status is not DeliveryStatus.pending:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the delivery stayed pending")


async def create_webhook(
    client: httpx.AsyncClient, headers: dict[str, str], namespace_id: int, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/namespaces/{namespace_id}/webhooks",
        json={"name": "receiver"} | fields,
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestDelivery:
    async def test_retried_until_delivered_logged_and_signed(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        digester: TokenDigester,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        task_context: TaskContext,
        webhook_http: httpx.AsyncClient,
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Receiver(statuses=[500, 500, 200]) as receiver:
            async with make_client(**FAST) as client:
                hook = await create_webhook(
                    client,
                    headers,
                    namespace_id,
                    url=receiver.url,
                    username="robot",
                    password="hook-password",
                )
                base = f"/api/v1/namespaces/{namespace_id}/webhooks/{hook['id']}"
                await client.post(
                    f"{base}/headers", json={"name": "X-Team", "value": "blue"}, headers=headers
                )
                pushed = push("alice/app", "1.0", "sha256:aa")
                assert (await post(client, pushed)).status_code == 202
                assert await worker_for(sessionmaker, settings).process_batch() == 1

                delivery = await session.scalar(select(WebhookDelivery))
                assert delivery is not None and delivery.event == "push"
                await until_settled(task_context, webhook_http, delivery.id)

                got = receiver.wait_for(3)
                assert len(got) == 3
                for request in got:
                    assert request.method == "POST"
                    assert request.headers["content-type"] == "application/json"
                    assert request.headers["x-portus-event"] == "push"
                    assert request.headers["x-portus-delivery"] == delivery.uuid
                    assert request.headers["x-team"] == "blue"
                    assert request.headers["authorization"].startswith("Basic ")
                    assert request.signature_valid(hook["secret"])
                    assert not request.signature_valid("whsec_wrong")
                    assert json.loads(request.body) == pushed  # the registry's event, as is

                detail = await client.get(f"{base}/deliveries/{delivery.id}", headers=headers)
                assert detail.status_code == 200
                shown = detail.json()
                assert shown["status"] == "delivered"
                assert shown["attempts"] == 3
                assert shown["last_status_code"] == 200
                assert shown["delivered_at"] is not None
                log = shown["attempt_log"]
                assert [a["number"] for a in log] == [1, 2, 3]
                assert [a["response_status"] for a in log] == [500, 500, 200]
                assert all(a["error"] is None for a in log)
                assert log[0]["response_body"] == '{"answer": 500}'
                assert log[2]["response_headers"]["content-type"] == "application/json"
                assert json.loads(log[0]["request_body"]) == pushed
                assert log[0]["request_headers"]["X-Portus-Delivery"] == delivery.uuid
                # credentials never reach the log
                assert log[0]["request_headers"]["Authorization"] == "********"
                assert "hook-password" not in detail.text

                # re-send: the same delivery id, a new cycle, the webhook's current settings
                await client.put(base, json={"request_method": "GET"}, headers=headers)
                resent = await client.put(f"{base}/deliveries/{delivery.id}", headers=headers)
                assert resent.status_code == 200, resent.text
                assert resent.json()["status"] == "pending"
                await until_settled(task_context, webhook_http, delivery.id)
                again = receiver.wait_for(4)[3]
                assert again.method == "GET"
                assert again.headers["x-portus-delivery"] == delivery.uuid
                assert again.signature_valid(hook["secret"])
                assert dict(parse_qsl(again.query))["action"] == "push"
                assert json.loads(dict(parse_qsl(again.query))["target"]) == pushed["target"]
                final = (
                    await client.get(f"{base}/deliveries/{delivery.id}", headers=headers)
                ).json()
                assert final["status"] == "delivered" and final["attempts"] == 4

    async def test_form_posts_fields_and_gives_up_after_max_attempts(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        digester: TokenDigester,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        task_context: TaskContext,
        webhook_http: httpx.AsyncClient,
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Receiver(statuses=[503]) as receiver:
            async with make_client(webhooks={"allow_local_network": True}) as client:
                hook = await create_webhook(
                    client,
                    headers,
                    namespace_id,
                    url=receiver.url,
                    content_type="application/x-www-form-urlencoded",
                )
                await post(client, push("alice/app", "1.0", "sha256:aa"))
                await worker_for(sessionmaker, settings).process_batch()
                await post(client, event("delete", "alice/app", digest="sha256:aa"))
                await worker_for(sessionmaker, settings).process_batch()
            deliveries = list(await session.scalars(select(WebhookDelivery)))
            assert sorted(d.event for d in deliveries) == ["delete", "push"]
            ctx = TaskContext(
                make_settings(task_context.settings, webhooks={"max_attempts": 2}),
                task_context.sessionmaker,
                task_context.http,
                task_context.client_for,
            )
            for delivery in deliveries:
                await until_settled(ctx, webhook_http, delivery.id)
            got = receiver.wait_for(4)
        for delivery in deliveries:
            await session.refresh(delivery)
            assert delivery.status is DeliveryStatus.failed
            assert delivery.attempts == 2 and delivery.last_status_code == 503
        form = dict(parse_qsl(got[0].body.decode()))
        assert got[0].headers["content-type"] == "application/x-www-form-urlencoded"
        assert form["action"] in ("push", "delete")
        assert json.loads(form["target"])["repository"] == "alice/app"
        assert all(request.signature_valid(hook["secret"]) for request in got)

    async def test_refused_connections_are_failed_attempts(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        task_context: TaskContext,
        webhook_http: httpx.AsyncClient,
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Receiver() as receiver:
            dead_url = receiver.url  # a port that nobody listens on any more
        await create_webhook(client, headers, namespace_id, url=dead_url)
        await service.enqueue(session, namespace_id, "push", {"id": "e"})
        await session.flush()
        assert await sender.deliver_due(task_context, webhook_http) == 1
        attempt = await session.scalar(select(WebhookAttempt))
        assert attempt is not None
        assert attempt.response_status is None
        assert attempt.error is not None and "Connect" in attempt.error
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None
        await session.refresh(delivery)
        assert delivery.status is DeliveryStatus.pending
        assert delivery.next_attempt_at is not None and delivery.lease_until is None
        # not due again before its backoff
        assert await sender.deliver_due(task_context, webhook_http) == 0


class TestIsolation:
    async def test_a_hanging_receiver_never_slows_event_ingestion(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        task_context: TaskContext,
        webhook_http: httpx.AsyncClient,
    ) -> None:
        """While a request hangs until its timeout, the sender holds no transaction: events are
        received, processed, and enqueue more deliveries at full speed."""
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Blackhole() as blackhole:
            await create_webhook(client, headers, namespace_id, url=blackhole.url)
            await post(client, push("alice/app", "1", "sha256:aa"))
            await worker_for(sessionmaker, settings).process_batch()
            patient = TaskContext(
                make_settings(task_context.settings, webhooks={"timeout": 4}),
                task_context.sessionmaker,
                task_context.http,
                task_context.client_for,
            )
            sending = asyncio.create_task(sender.deliver_due(patient, webhook_http))
            await asyncio.sleep(0.3)  # claimed, and now waiting for an answer
            assert not sending.done()

            started = time.monotonic()
            response = await post(client, push("alice/app", "2", "sha256:bb"))
            assert response.status_code == 202
            assert await worker_for(sessionmaker, settings).process_batch() == 1
            assert time.monotonic() - started < 2.0
            assert not sending.done()

            assert await sending == 1  # gave up at the 4 s timeout
        attempt = await session.scalar(select(WebhookAttempt))
        assert attempt is not None and attempt.error == "timed out after 4 s"
        assert attempt.duration_ms >= 3900
        statuses = list(await session.scalars(select(WebhookDelivery.status)))
        assert statuses == [DeliveryStatus.pending, DeliveryStatus.pending]

    async def test_run_sender_wakes_on_new_deliveries(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        task_context: TaskContext,
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Receiver() as receiver:
            await create_webhook(client, headers, namespace_id, url=receiver.url)
            wake, stop = asyncio.Event(), asyncio.Event()
            loop = asyncio.create_task(sender.run_sender(task_context, wake, stop))
            try:
                await asyncio.sleep(0.2)  # idle: nothing due, sleeping for the poll interval
                await service.enqueue(session, namespace_id, "push", {"id": "woken"})
                await session.commit()
                started = time.monotonic()
                wake.set()
                await asyncio.to_thread(receiver.wait_for, 1, 3.0)
                assert time.monotonic() - started < sender.IDLE_POLL_SECONDS
            finally:
                stop.set()
                await asyncio.wait_for(loop, 5)
        assert json.loads(receiver.received[0].body) == {"id": "woken"}


@asynccontextmanager
async def own_database(
    tmp_path: Path, settings: Settings, **webhooks: Any
) -> AsyncIterator[TaskContext]:
    """A migrated database of its own with a real pool: senders that run several transactions
    at once cannot share the test's one connection."""
    async with throwaway_database(tmp_path) as url:
        engine = create_engine(url, pool_size=4)
        config = make_settings(settings, database_url=url, webhooks=FAST["webhooks"] | webhooks)
        try:
            async with httpx.AsyncClient(trust_env=False) as http:
                yield TaskContext(
                    config,
                    create_sessionmaker(engine),
                    http,
                    client_factory(http, config, load_signing_key(config)),
                )
        finally:
            await engine.dispose()


async def add_webhooks(
    ctx: TaskContext, url: str, count: int, *, deliveries: int, namespace: str | None = None
) -> list[int]:
    """`count` webhooks to `url` in a new namespace, each with `deliveries` due ones."""
    box = secret_box(ctx.settings)
    async with session_scope(ctx.sessionmaker) as session:
        registry = await session.scalar(select(Registry))
        if registry is None:
            registry = await factories.create_registry(session)
        space = await factories.create_namespace(session, registry, name=namespace)
        hooks = [
            Webhook(
                namespace_id=space.id,
                name=f"w{n}",
                url=url,
                secret_encrypted=box.encrypt("whsec_test"),
            )
            for n in range(count)
        ]
        session.add_all(hooks)
        await session.flush()
        for n in range(deliveries):
            await service.enqueue(
                session, space.id, "push", {"n": n}, webhook_ids=[h.id for h in hooks]
            )
        return [hook.id for hook in hooks]


class TestClaiming:
    async def test_two_senders_never_claim_the_same_delivery(self, tmp_path: Path) -> None:
        """On PostgreSQL two claims run at once (SKIP LOCKED: the second takes the rows the
        first did not lock, without waiting); on SQLite one after the other (the lease)."""
        async with throwaway_database(tmp_path) as url:
            engine = create_engine(url, pool_size=2)
            maker = create_sessionmaker(engine)
            try:
                async with session_scope(maker) as session:
                    registry = await factories.create_registry(session)
                    namespace_id = await session.scalar(
                        select(Namespace.id).where(Namespace.registry_id == registry.id)
                    )
                    assert namespace_id is not None
                    session.add_all(
                        Webhook(
                            namespace_id=namespace_id,
                            name=f"w{n}",
                            url="http://x/",
                            secret_encrypted="-",
                        )
                        for n in range(10)
                    )
                    await session.flush()
                    for n in range(2):  # two due deliveries per webhook
                        await service.enqueue(session, namespace_id, "push", {"id": str(n)})
                now = utcnow()
                lease = now + timedelta(seconds=60)
                async with maker() as first, maker() as second:
                    mine = await repository.claim_due(first, now=now, lease_until=lease, limit=6)
                    if engine.dialect.name != "postgresql":
                        await first.commit()
                    theirs = await asyncio.wait_for(
                        repository.claim_due(second, now=now, lease_until=lease, limit=10), 5
                    )
                    await first.commit()
                    await second.commit()
                first_ids = {d.id for d, _ in mine}
                second_ids = {d.id for d, _ in theirs}
                assert len(first_ids) == 6 and len(second_ids) == 4
                assert not first_ids & second_ids
                # one delivery per webhook, every webhook served once
                webhooks = [w.id for _, w in [*mine, *theirs]]
                assert len(set(webhooks)) == 10
                async with session_scope(maker) as session:
                    later = await repository.claim_due(
                        session, now=utcnow(), lease_until=lease, limit=10
                    )
                    assert later == []  # every webhook has its request in flight
                    # when the leases run out (a sender died), they are due again
                    expired = await repository.claim_due(
                        session, now=lease, lease_until=lease + timedelta(seconds=60), limit=20
                    )
                    assert {d.id for d, _ in expired} == first_ids | second_ids
            finally:
                await engine.dispose()

    async def test_webhooks_take_turns_whatever_their_backlog(
        self, session: AsyncSession, settings: Settings
    ) -> None:
        """The flooded webhook's deliveries are all older, yet the other webhook is served
        second, not after the flood."""
        registry = await factories.create_registry(session)
        flood = await factories.create_namespace(session, registry, name="flood")
        quiet = await factories.create_namespace(session, registry, name="quiet")
        hooks = {}
        for namespace in (flood, quiet):
            hooks[namespace.name] = Webhook(
                namespace_id=namespace.id, name="w", url="http://x/", secret_encrypted="-"
            )
            session.add(hooks[namespace.name])
        await session.flush()
        for n in range(5):
            await service.enqueue(session, flood.id, "push", {"n": n})
        await session.flush()
        await service.enqueue(session, quiet.id, "push", {"n": "quiet"})
        await session.flush()
        flood_id, quiet_id = flood.id, quiet.id

        served = []
        for _ in range(4):
            now = utcnow()
            lease = now + timedelta(seconds=60)
            [(delivery, webhook)] = await repository.claim_due(
                session, now=now, lease_until=lease, limit=1
            )
            served.append((webhook.namespace_id, delivery.payload["n"]))
            # answered: the webhook is free again
            delivery.status = DeliveryStatus.delivered
            delivery.lease_until = None
            await session.flush()
            await repository.release_webhook(session, webhook.id, lease)
            session.expire_all()
        assert served == [(flood_id, 0), (quiet_id, "quiet"), (flood_id, 1), (flood_id, 2)]
        # the turns do not count as changes of the webhook
        await session.refresh(hooks["flood"])
        assert hooks["flood"].last_claimed_at is not None
        assert hooks["flood"].updated_at < hooks["flood"].last_claimed_at

    async def test_a_late_answer_does_not_free_a_webhook_claimed_again_since(
        self, session: AsyncSession
    ) -> None:
        """A sender whose lease ran out records its answer after another sender claimed the
        webhook again: the webhook stays busy until that second request is answered (else a
        third could go out beside it)."""
        registry = await factories.create_registry(session)
        namespace = await factories.create_namespace(session, registry)
        webhook = Webhook(
            namespace_id=namespace.id, name="w", url="http://x/", secret_encrypted="-"
        )
        session.add(webhook)
        await session.flush()
        webhook_id = webhook.id
        for n in range(3):
            await service.enqueue(session, namespace.id, "push", {"n": n})
        await session.flush()
        now = utcnow()
        first_lease = now + timedelta(seconds=1)
        [(first, _)] = await repository.claim_due(
            session, now=now, lease_until=first_lease, limit=1
        )
        later = now + timedelta(seconds=5)  # the first lease ran out: another sender claims
        second_lease = later + timedelta(seconds=60)
        [(second, _)] = await repository.claim_due(
            session, now=later, lease_until=second_lease, limit=1
        )
        assert second.id == first.id  # the same delivery, its lease having run out
        await repository.release_webhook(session, webhook_id, first_lease)  # the late answer
        session.expire_all()
        assert (
            await session.scalar(select(Webhook.in_flight_until).where(Webhook.id == webhook_id))
            == second_lease
        )
        assert (
            await repository.claim_due(
                session, now=later, lease_until=later + timedelta(seconds=60), limit=1
            )
            == []
        )
        await repository.release_webhook(session, webhook_id, second_lease)
        session.expire_all()
        assert (
            await session.scalar(select(Webhook.in_flight_until).where(Webhook.id == webhook_id))
            is None
        )


class TestFairness:
    async def test_a_flooded_namespace_does_not_delay_another_ones_first_delivery(
        self, tmp_path: Path, settings: Settings
    ) -> None:
        """Six webhooks with 100 deliveries each to a receiver that takes 0.3 s per request
        (a 3-minute backlog at 4 at once, the whole queue had to drain first): the other
        namespace's delivery goes out when the next slot frees up."""
        async with own_database(tmp_path, settings, concurrency=4, timeout=5) as ctx:
            with Receiver(delay=0.3) as slow, Receiver() as fast:
                await add_webhooks(ctx, slow.url, 6, deliveries=100, namespace="flood")
                wake, stop = asyncio.Event(), asyncio.Event()
                loop = asyncio.create_task(sender.run_sender(ctx, wake, stop))
                try:
                    await asyncio.to_thread(slow.wait_for, 8, 10.0)  # the flood is flowing
                    [quiet] = await add_webhooks(ctx, fast.url, 1, deliveries=1, namespace="q")
                    started = time.monotonic()
                    wake.set()
                    await asyncio.to_thread(fast.wait_for, 1, 30.0)
                    waited = time.monotonic() - started
                finally:
                    stop.set()
                    await asyncio.wait_for(loop, 15)
                assert waited < 3.0, f"waited {waited:.1f} s behind the flood"
                assert len(slow.received) < 100  # far from drained
                # never more at once than configured, and one per webhook at a time
                assert slow.most_in_flight <= 4
        assert quiet

    async def test_concurrency_is_bounded_and_one_request_per_webhook(
        self, tmp_path: Path, settings: Settings
    ) -> None:
        async with own_database(tmp_path, settings, concurrency=3, timeout=5) as ctx:
            with Receiver(delay=0.2) as many, Receiver(delay=0.2) as single:
                await add_webhooks(ctx, many.url, 6, deliveries=3)
                await add_webhooks(ctx, single.url, 1, deliveries=6)
                wake, stop = asyncio.Event(), asyncio.Event()
                loop = asyncio.create_task(sender.run_sender(ctx, wake, stop))
                try:
                    await asyncio.to_thread(many.wait_for, 18, 30.0)
                    await asyncio.to_thread(single.wait_for, 6, 30.0)
                finally:
                    stop.set()
                    await asyncio.wait_for(loop, 15)
            assert 2 <= many.most_in_flight <= 3
            assert single.most_in_flight == 1  # one webhook: its deliveries one at a time
            async with session_scope(ctx.sessionmaker) as session:
                statuses = list(await session.scalars(select(WebhookDelivery.status)))
            assert statuses == [DeliveryStatus.delivered] * 24


class TestRequests:
    def job(self, **fields: Any) -> sender.Job:
        base: dict[str, Any] = {
            "delivery_id": 1,
            "uuid": "u-1",
            "event": "push",
            "payload": {"action": "push", "target": {"tag": "1"}},
            "url": "https://hooks.example.com/in?team=a",
            "method": WebhookMethod.GET,
            "content_type": WebhookContentType.json,
            "username": None,
            "password": None,
            "secret": "whsec_x",
            "headers": [("Content-Type", "text/custom")],
        }
        return sender.Job(**(base | fields))

    def test_get_keeps_the_url_query_and_signs_the_whole_query_string(self) -> None:
        request = sender.build_request(self.job())
        assert request.url.startswith("https://hooks.example.com/in?team=a&action=push&target=")
        assert request.body == b""
        query = request.url.split("?", 1)[1].encode()
        assert request.headers["X-Portus-Signature-256"] == sender.signature("whsec_x", query)
        assert "Authorization" not in request.headers

    def test_custom_headers_never_replace_the_portus_ones(self) -> None:
        request = sender.build_request(
            self.job(method=WebhookMethod.POST, headers=[("X-Portus-Event", "forged")])
        )
        assert request.headers["X-Portus-Event"] == "push"
        assert request.headers["Content-Type"] == "application/json"

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        waits = [sender.backoff_seconds(10, 60, n) for n in range(1, 7)]
        assert waits == [10, 20, 40, 60, 60, 60]
        assert sender.backoff_seconds(10, 3600, 10_000) == 3600


class TestLocalNetwork:
    """With `webhooks.allow_local_network` off (the default)."""

    async def test_a_local_receiver_gets_nothing(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        digester: TokenDigester,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        task_context: TaskContext,
    ) -> None:
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        with Receiver() as receiver:
            async with make_client(**FAST) as client:
                await create_webhook(client, headers, namespace_id, url=receiver.url)
                pushed = push("alice/app", "1.0", "sha256:aa")
                assert (await post(client, pushed)).status_code == 202
                assert await worker_for(sessionmaker, settings).process_batch() == 1
            strict = strict_context(task_context)
            async with webhook_http_client(strict.settings.webhooks) as http:
                assert await sender.deliver_due(strict, http) == 1
            delivery = await session.scalar(select(WebhookDelivery))
            assert delivery is not None
            await session.refresh(delivery)
            assert delivery.status == DeliveryStatus.pending  # retried later, like any failure
            attempt = await session.scalar(select(WebhookAttempt))
            assert attempt is not None
            # no address named: the delivery log would be a DNS oracle for namespace members
            assert attempt.error == "refused: not a public address"
            assert receiver.received == []

    async def test_a_name_that_rebinds_to_127_0_0_1_never_reaches_it(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        task_context: TaskContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The owner's DNS server answers a public address to the first lookup and 127.0.0.1 to
        the next ones. A sender that checked the name and then let httpx look it up again
        connected to 127.0.0.1 (and logged the answer); the address checked must be the address
        connected to."""
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        network = PretendNetwork(monkeypatch)
        strict = strict_context(task_context)
        with Receiver() as internal, Receiver() as public:
            network.answer("hooks.rebind.test", [PUBLIC], ["127.0.0.1"])
            network.route(PUBLIC, ("127.0.0.1", public.port))
            url = f"http://hooks.rebind.test:{internal.port}/hook"
            await create_webhook(client, headers, namespace_id, url=url)
            async with webhook_http_client(strict.settings.webhooks) as http:
                for n in (1, 2):
                    await service.enqueue(session, namespace_id, "push", {"id": str(n)})
                    await session.flush()
                    assert await sender.deliver_due(strict, http) == 1
            assert [json.loads(request.body) for request in public.received] == [{"id": "1"}]
            assert internal.received == []
        attempts = list(await session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)))
        assert [(a.response_status, a.error) for a in attempts] == [
            (200, None),
            (None, "refused: not a public address"),
        ]
        assert network.connections == [PUBLIC]

    async def test_a_redirect_to_a_local_address_is_recorded_not_followed(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        task_context: TaskContext,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A public receiver answering 302 to an internal URL: the attempt is the 302 (a failed
        one, retried later); nothing asks the internal URL."""
        await factories.create_registry(session)
        headers = await admin_headers(session, digester, "alice")
        namespace_id = await personal_namespace_id(session)
        network = PretendNetwork(monkeypatch)
        strict = strict_context(task_context)
        with Receiver() as internal, Receiver(statuses=[302], location="") as public:
            public.location = f"{internal.url}?stolen=1"
            network.answer("hooks.redirect.test", [PUBLIC])
            network.route(PUBLIC, ("127.0.0.1", public.port))
            url = f"http://hooks.redirect.test:{public.port}/hook"
            await create_webhook(client, headers, namespace_id, url=url)
            await service.enqueue(session, namespace_id, "push", {"id": "1"})
            await session.flush()
            async with webhook_http_client(strict.settings.webhooks) as http:
                assert await sender.deliver_due(strict, http) == 1
            assert len(public.received) == 1
            assert internal.received == []
        attempt = await session.scalar(select(WebhookAttempt))
        assert attempt is not None
        assert attempt.response_status == 302 and attempt.error is None
        assert attempt.response_headers is not None
        assert attempt.response_headers["location"].endswith("?stolen=1")
        delivery = await session.scalar(select(WebhookDelivery))
        assert delivery is not None
        await session.refresh(delivery)
        assert delivery.status is DeliveryStatus.pending and delivery.last_status_code == 302
        assert network.connections == [PUBLIC]


def strict_context(ctx: TaskContext) -> TaskContext:
    return replace(
        ctx, settings=make_settings(ctx.settings, webhooks={"allow_local_network": False})
    )
