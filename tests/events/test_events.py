from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.keys import load_signing_key
from app.models import (
    Activity,
    EventStatus,
    Namespace,
    RegistryEvent,
    Repository,
    Role,
    Tag,
    Visibility,
    Webhook,
    WebhookDelivery,
)
from app.registry.client import OCI_MANIFEST, ManifestInfo, client_factory
from app.registry.events import processor
from app.registry.events.processor import EventContext
from app.registry.events.worker import MAX_ATTEMPTS, EventWorker
from app.registry.sync import service as sync_service
from app.repositories import service as repositories
from app.webhooks import service as webhooks
from tests.fixtures import factories
from tests.fixtures.database import backend
from tests.fixtures.factories import REGISTRY_HOST

LATER = "2026-11-29T03:00:00Z"  # after the pushes of `push()`
SECRET = {"Authorization": "Bearer test-notification-secret"}


def event(action: str, repository: str, **target: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": target.pop("timestamp", "2026-11-29T01:38:46.983704042Z"),
        "action": action,
        "target": {"repository": repository, **target},
        "request": {"host": REGISTRY_HOST, "method": target.pop("method", "PUT")},
        "actor": {"name": target.pop("actor", "alice")},
    }
    if action != "delete":
        body["target"].setdefault("mediaType", OCI_MANIFEST)
    return body


def push(repository: str, tag: str, digest: str, **extra: Any) -> dict[str, Any]:
    return event("push", repository, tag=tag, digest=digest, size=401, **extra)


async def post(client: httpx.AsyncClient, *events: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/v2/webhooks/events",
        content=json.dumps({"events": list(events)}),
        headers={"Content-Type": "application/vnd.docker.distribution.events.v1+json"} | SECRET,
    )


def worker_for(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> EventWorker:
    """A worker whose registry is unreachable: sizes fall back, nothing else changes."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(503)))
    client_for = client_factory(http, settings, load_signing_key(settings))
    return EventWorker(sessionmaker, EventContext(client_for=client_for, settings=settings))


async def stored(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(RegistryEvent.id))) or 0)


class TestReceiving:
    async def test_requires_the_shared_secret(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = await client.post(
                "/v2/webhooks/events",
                content=json.dumps({"events": [push("a/b", "1", "sha256:1")]}),
                headers=headers,
            )
            assert response.status_code == 401
            assert "notification secret" in response.json()["message"]
        assert await stored(session) == 0

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b"{not json", "not valid JSON"),
            (b'{"events": 3}', '"events" list'),
            (b"[]", '"events" list'),
            (b'{"events": [{"action": "push", "target": {}}]}', "events[0].id"),
            (b'{"events": [{"id": "x", "action": "push", "target": 1}]}', "events[0].target"),
        ],
    )
    async def test_broken_bodies_are_400(
        self, session: AsyncSession, client: httpx.AsyncClient, body: bytes, problem: str
    ) -> None:
        response = await client.post("/v2/webhooks/events", content=body, headers=SECRET)
        assert response.status_code == 400
        assert problem in response.json()["message"]
        assert await stored(session) == 0

    async def test_stores_manifest_events_once(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        manifest = push("alice/app", "1.0", "sha256:aa")
        blob = event("push", "alice/app", digest="sha256:bb", mediaType="application/octet-stream")
        head_pull = event("pull", "alice/app", tag="1.0", method="HEAD")
        own_pull = event("pull", "alice/app", tag="1.0", method="GET", actor="portus")
        mount = event("mount", "alice/app", digest="sha256:cc")
        first = await post(client, manifest, blob, head_pull, own_pull, mount)
        assert first.status_code == 202
        assert first.json() == {"stored": 1}
        again = await post(client, manifest)  # the registry redelivers the same id
        assert again.status_code == 202 and again.json() == {"stored": 0}
        assert await stored(session) == 1


class TestProcessing:
    async def test_push_pull_delete(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        await post(
            client,
            push("alice/app", "1.0", "sha256:aa"),
            push("alice/app", "latest", "sha256:aa"),
            push("alice/app", "2.0", "sha256:bb"),
        )
        worker = worker_for(sessionmaker, settings)
        assert await worker.process_batch() == 3
        tags = {t.name: t for t in await session.scalars(select(Tag))}
        assert set(tags) == {"1.0", "latest", "2.0"}
        assert tags["1.0"].digest == "sha256:aa"
        assert tags["1.0"].user_id == alice.id
        assert tags["1.0"].media_type == OCI_MANIFEST

        await post(client, event("pull", "alice/app", tag="1.0", method="GET"))
        await worker.process_batch()
        await session.refresh(tags["1.0"])
        assert tags["1.0"].pulled_at is not None

        # Deleting a digest removes its tags (the registry untags them all), not the others.
        await post(client, event("delete", "alice/app", digest="sha256:aa"))
        await worker.process_batch()
        remaining = set(await session.scalars(select(Tag.name)))
        assert remaining == {"2.0"}
        # The per-tag follow-up event of the last tag empties and removes the repository.
        await post(client, event("delete", "alice/app", digest="sha256:bb"))
        await worker.process_batch()
        assert await session.scalar(select(func.count(Repository.id))) == 0
        keys = list(await session.scalars(select(Activity.key).order_by(Activity.id)))
        assert keys.count("repository.push") == 3
        assert keys.count("repository.delete") == 3
        assert "namespace.delete" in keys
        statuses = set(await session.scalars(select(RegistryEvent.status)))
        assert statuses == {EventStatus.done}

    async def test_an_older_push_never_overwrites_a_newer_one(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        newer = push("alice/app", "1.0", "sha256:new", timestamp="2026-11-29T02:00:00.5Z")
        older = push("alice/app", "1.0", "sha256:old", timestamp="2026-11-29T01:00:00.5Z")
        await post(client, newer, older)
        await worker_for(sessionmaker, settings).process_batch()
        assert list(await session.scalars(select(Tag.digest))) == ["sha256:new"]

    async def test_a_push_the_sync_imported_first_is_recorded_once(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """The sync asked the registry just before the push and imported the tag; the push's
        event, processed later, is newer than the sync's stamp. Still one push: one activity,
        now owned by the pusher."""
        await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        namespace = await session.scalar(select(Namespace).where(Namespace.name == "alice"))
        assert namespace is not None
        repository = await repositories.find_or_create_repository(session, namespace, "app")
        manifest = ManifestInfo("sha256:aa", OCI_MANIFEST, "cfg", 1234)
        asked_at = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
        assert await sync_service._create_tag(session, repository, "1.0", manifest, asked_at)
        await session.commit()

        await post(client, push("alice/app", "1.0", "sha256:aa", timestamp="2026-11-29T01:00:02Z"))
        await worker_for(sessionmaker, settings).process_batch()

        tag = await session.scalar(select(Tag).execution_options(populate_existing=True))
        assert tag is not None
        assert (tag.digest, tag.username, tag.user_id) == ("sha256:aa", "alice", alice.id)
        assert tag.size == 1234  # what the sync read from the registry stays
        pushes = (
            await session.scalars(select(Activity).where(Activity.key == "repository.push"))
        ).all()
        assert [(a.owner_id, a.recipient_id) for a in pushes] == [(alice.id, tag.id)]

        # A later push of other content is a push of its own.
        await post(client, push("alice/app", "1.0", "sha256:bb", timestamp="2026-11-29T01:00:09Z"))
        await worker_for(sessionmaker, settings).process_batch()
        keys = list(await session.scalars(select(Activity.key)))
        assert keys.count("repository.push") == 2

    async def test_a_client_delete_is_one_webhook_and_an_activity_per_tag(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """skopeo delete sends the digest's event, then one per tag the registry untagged: the
        tags go with the first, each with its activity; the namespace's webhook receives the
        registry's event once (the follow-ups find nothing left)."""
        await factories.create_registry(session)
        alice_id = (await factories.create_user(session, username="alice")).id
        namespace = await session.scalar(select(Namespace).where(Namespace.name == "alice"))
        assert namespace is not None
        session.add(
            Webhook(
                namespace_id=namespace.id,
                name="hook",
                url="https://hooks.example.com/",
                secret_encrypted="unused here",
            )
        )
        await session.commit()
        await post(
            client,
            push("alice/app", "1.0", "sha256:aa"),
            push("alice/app", "latest", "sha256:aa"),
            push("alice/app", "2.0", "sha256:bb"),
        )
        worker = worker_for(sessionmaker, settings)
        await worker.process_batch()
        tag_ids = {
            name: id_ for name, id_ in (await session.execute(select(Tag.name, Tag.id))).all()
        }

        by_digest = event("delete", "alice/app", digest="sha256:aa", timestamp=LATER)
        follow_ups = [
            event("delete", "alice/app", tag=t, timestamp=LATER) for t in ("1.0", "latest")
        ]
        await post(client, by_digest, *follow_ups)
        await worker.process_batch()

        assert set(await session.scalars(select(Tag.name))) == {"2.0"}
        deleted = (
            await session.execute(
                select(Activity.recipient_type, Activity.recipient_id, Activity.owner_id).where(
                    Activity.key == "repository.delete"
                )
            )
        ).all()
        assert sorted(deleted) == sorted(
            [("Tag", tag_ids["1.0"], alice_id), ("Tag", tag_ids["latest"], alice_id)]
        )
        payloads = list(
            await session.scalars(
                select(WebhookDelivery.payload).where(WebhookDelivery.event == "delete")
            )
        )
        assert [p["id"] for p in payloads] == [by_digest["id"]]

    async def test_a_delete_matching_no_tag_leaves_the_repository_alone(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """A repository without tags (imported, or emptied and pushed to by digest) is not
        removed by a delete event that removed nothing."""
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        namespace = await session.scalar(select(Namespace).where(Namespace.name == "alice"))
        assert namespace is not None
        await repositories.find_or_create_repository(session, namespace, "app")
        await session.commit()
        await post(client, event("delete", "alice/app", tag="gone", timestamp=LATER))
        await worker_for(sessionmaker, settings).process_batch()
        assert list(await session.scalars(select(Repository.name))) == ["app"]
        assert list(await session.scalars(select(Activity.key))).count("namespace.delete") == 0

    async def test_an_older_pull_never_moves_pulled_at_back(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        newer = event(
            "pull", "alice/app", tag="1.0", method="GET", timestamp="2026-11-29T06:00:00Z"
        )
        older = event("pull", "alice/app", digest="sha256:aa", method="GET", timestamp=LATER)
        await post(client, push("alice/app", "1.0", "sha256:aa"), newer, older)
        await worker_for(sessionmaker, settings).process_batch()
        tag = await session.scalar(select(Tag))
        assert tag is not None
        assert tag.pulled_at == datetime(2026, 11, 29, 6, 0, tzinfo=UTC)

    async def test_admin_push_creates_the_namespace(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        registry = await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        await post(client, push("newteam/app", "1", "sha256:aa", actor="root"))
        await worker_for(sessionmaker, settings).process_batch()
        namespace = await session.scalar(select(Namespace).where(Namespace.name == "newteam"))
        assert namespace is not None
        assert namespace.visibility is Visibility.private
        assert namespace.registry_id == registry.id

    async def test_push_to_the_global_namespace(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        await post(client, push("busybox", "1", "sha256:aa", actor="root"))
        await worker_for(sessionmaker, settings).process_batch()
        repository = await session.scalar(select(Repository))
        assert repository is not None and repository.name == "busybox"

    async def test_unknown_registry_host_is_skipped_not_retried(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_registry(session, hostname="second:5000")
        stray = push("alice/app", "1", "sha256:aa")
        stray["request"]["host"] = "elsewhere:5000"
        await post(client, stray)
        await worker_for(sessionmaker, settings).process_batch()
        row = await session.scalar(select(RegistryEvent))
        assert row is not None
        await session.refresh(row)
        assert row.status is EventStatus.done
        assert row.error is not None and "unknown registry host" in row.error
        assert await session.scalar(select(func.count(Tag.id))) == 0


class TestHostileEvents:
    async def test_invalid_repository_names_are_skipped(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await post(
            client,
            push("alice/..//Evil Name", "1", "sha256:aa"),
            push("UPPER CASE!", "1", "sha256:bb"),
        )
        await worker_for(sessionmaker, settings).process_batch()
        assert await session.scalar(select(func.count(Repository.id))) == 0
        errors = list(await session.scalars(select(RegistryEvent.error)))
        assert all(e is not None and "invalid repository name" in e for e in errors)

    async def test_the_global_namespace_name_is_not_a_prefix(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        registry = await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        global_name = f"portus_global_namespace_{registry.id}"
        await post(client, push(f"{global_name}/foo", "1", "sha256:aa", actor="root"))
        await worker_for(sessionmaker, settings).process_batch()
        # Not filed as `foo` in the global namespace (which is what `foo` alone would mean).
        assert await session.scalar(select(func.count(Repository.id))) == 0

    async def test_a_forged_push_by_a_user_creates_no_namespace(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """Only administrators may push into a missing namespace (the token service's rule):
        an event claiming that bob did is refused, whoever wrote it."""
        await factories.create_registry(session)
        await factories.create_user(session, username="bob")
        forged = push("newteam/app", "1", "sha256:aa", actor="bob")
        nobody = push("otherteam/app", "1", "sha256:bb", actor="ghost")
        await post(client, forged, nobody)
        await worker_for(sessionmaker, settings).process_batch()
        names = set(await session.scalars(select(Namespace.name)))
        assert not names & {"newteam", "otherteam"}
        assert await session.scalar(select(func.count(Repository.id))) == 0
        assert await outcomes(session) == [
            (
                forged["id"],
                EventStatus.done,
                "'bob' may not push to the missing namespace 'newteam'",
            ),
            (
                nobody["id"],
                EventStatus.done,
                "an unknown user may not push to the missing namespace 'otherteam'",
            ),
        ]

    async def test_a_forged_push_into_a_namespace_the_actor_may_not_push_to(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        """bob may pull from alice's team (a viewer) but not push: no tag, as no token."""
        registry = await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")
        bob = await factories.create_user(session, username="bob")
        await factories.create_namespace(
            session,
            registry,
            name="team",
            members={alice.id: Role.contributor, bob.id: Role.viewer},
        )
        by_bob = push("team/app", "1", "sha256:aa", actor="bob")
        by_alice = push("team/app", "2", "sha256:bb", actor="alice")
        await post(client, by_bob, by_alice)
        await worker_for(sessionmaker, settings).process_batch()
        assert list(await session.scalars(select(Tag.name))) == ["2"]
        assert (await outcomes(session))[0][2] == "'bob' may not push to namespace 'team'"

    async def test_a_push_of_a_manifest_the_registry_does_not_serve_is_skipped(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A 404 for the pushed digest: no tag, nothing created, the event is done (never
        retried) and logged with its id. A registry that cannot be asked is no such answer."""
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        served = {"sha256:" + "1" * 64: OCI_MANIFEST}

        def registry(request: httpx.Request) -> httpx.Response:
            reference = request.url.path.rsplit("/", 1)[-1]
            if reference == "sha256:" + "5" * 64:
                return httpx.Response(503)
            if reference not in served:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            body = {"schemaVersion": 2, "config": {"size": 10, "digest": "sha256:cfg"}}
            headers = {"Docker-Content-Digest": reference, "Content-Type": OCI_MANIFEST}
            return httpx.Response(200, json=body | {"layers": []}, headers=headers)

        http = httpx.AsyncClient(transport=httpx.MockTransport(registry))
        client_for = client_factory(http, settings, load_signing_key(settings))
        worker = EventWorker(sessionmaker, EventContext(client_for=client_for, settings=settings))
        forged = push("newteam/app", "forged", "sha256:" + "0" * 64, actor="root")
        await post(client, forged)
        with caplog.at_level("WARNING", logger="app.registry.events.processor"):
            await worker.process_batch()
        assert (
            await session.scalar(
                select(func.count(Namespace.id)).where(Namespace.name == "newteam")
            )
            == 0
        )
        assert await session.scalar(select(func.count(Tag.id))) == 0
        [(_, status, error)] = await outcomes(session)
        assert status is EventStatus.done
        assert error is not None and "does not serve newteam/app@sha256:0000" in error
        assert any(forged["id"] in record.getMessage() for record in caplog.records)

        real = push("newteam/app", "real", "sha256:" + "1" * 64, actor="root")
        unreachable = push("newteam/app", "later", "sha256:" + "5" * 64, actor="root")
        await post(client, real, unreachable)
        await worker.process_batch()
        tags = {t.name: t for t in await session.scalars(select(Tag))}
        assert set(tags) == {"real", "later"}
        assert tags["real"].size == 10 and tags["real"].image_id == "cfg"
        assert tags["later"].size is None  # recorded from the event alone, as before
        await http.aclose()

    async def test_nul_characters_are_a_400(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"events": [push("a/b", "1", "sha256:1") | {"id": "x\u0000y"}]})
        response = await client.post("/v2/webhooks/events", content=body, headers=SECRET)
        assert response.status_code == 400
        assert "NUL" in response.json()["message"]


class TestFailures:
    async def test_a_failing_event_is_retried_then_given_up_and_spares_its_batch(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        real_handle = processor.handle

        async def broken_for_one_tag(
            session: AsyncSession, context: EventContext, data: dict[str, Any]
        ) -> None:
            if data["target"].get("tag") == "broken":
                raise RuntimeError("this event cannot be handled")
            await real_handle(session, context, data)

        monkeypatch.setattr(processor, "handle", broken_for_one_tag)
        broken = push("alice/app", "broken", "sha256:aa")
        await post(client, broken)
        worker = worker_for(sessionmaker, settings)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if attempt == 2:  # a good event in the same batch is not held back by the bad one
                await post(client, push("alice/app", "good", "sha256:bb"))
            assert await worker.process_batch() == (2 if attempt == 2 else 1)
            bad = await session.scalar(
                select(RegistryEvent).where(RegistryEvent.event_id == broken["id"])
            )
            assert bad is not None
            await session.refresh(bad)
            assert bad.attempts == attempt
            assert bad.error == "RuntimeError: this event cannot be handled"
            expected = EventStatus.failed if attempt == MAX_ATTEMPTS else EventStatus.fresh
            assert bad.status == expected
        assert await worker.process_batch() == 0  # given up: never taken again
        assert [t.name for t in await session.scalars(select(Tag))] == ["good"]


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """The SQL statements sent on `connection` meanwhile (an executemany counts once)."""
    sent: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(" ".join(statement.split()))

    sa_event.listen(connection.sync_engine, "before_cursor_execute", listen)
    try:
        yield sent
    finally:
        sa_event.remove(connection.sync_engine, "before_cursor_execute", listen)


def reads(sent: list[str]) -> Counter[str]:
    """SELECTs per table read."""
    found = (re.match(r"SELECT .*? FROM (\w+)", statement) for statement in sent)
    return Counter(match.group(1) for match in found if match is not None)


async def outcomes(session: AsyncSession) -> list[tuple[str, EventStatus, str | None]]:
    rows = await session.execute(
        select(RegistryEvent.event_id, RegistryEvent.status, RegistryEvent.error)
        .order_by(RegistryEvent.id)
        .execution_options(populate_existing=True)
    )
    return [(row.event_id, row.status, row.error) for row in rows]


class TestBatches:
    """The events of a batch share their look-ups; each sees what the earlier ones did."""

    async def test_a_batch_looks_each_row_up_once(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        connection: AsyncConnection,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        await session.commit()
        pushes = [push("alice/app", f"t{n}", f"sha256:{n:064x}") for n in range(10)]
        await post(client, *pushes)
        with statements(connection) as sent:
            assert await worker_for(sessionmaker, settings).process_batch() == 10
        read = reads(sent)
        # (on SQLite the manifests are looked up before the batch: its events and registries
        # are read once more for that)
        before = 1 if backend() == "sqlite" else 0
        for table in ("registry_events", "registries"):
            assert read[table] == 1 + before, (table, read)
        for table in ("users", "namespaces", "webhooks"):
            assert read[table] == 1, (table, read)
        assert read["repositories"] == 1  # missing once, then created and remembered
        assert read["tags"] == 0  # new tags: inserted, not looked for first
        inserts = Counter(s.split()[2] for s in sent if s.startswith("INSERT"))
        assert inserts == {"repositories": 1, "tags": 10, "activities": 10}
        assert sum(s.startswith("UPDATE registry_events") for s in sent) == 1
        assert set(await session.scalars(select(Tag.name))) == {f"t{n}" for n in range(10)}
        assert {status for _, status, _ in await outcomes(session)} == {EventStatus.done}

    async def test_a_repository_emptied_earlier_in_the_batch_is_created_again(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        first = push("alice/app", "1.0", "sha256:aa")
        removed = event("delete", "alice/app", digest="sha256:aa", timestamp=LATER)
        pulled_gone = event("pull", "alice/app", tag="1.0", method="GET", timestamp=LATER)
        again = push("alice/app", "2.0", "sha256:bb", timestamp="2026-11-29T04:00:00Z")
        pulled = event(
            "pull", "alice/app", tag="2.0", method="GET", timestamp="2026-11-29T05:00:00Z"
        )
        await post(client, first, removed, pulled_gone, again, pulled)
        assert await worker_for(sessionmaker, settings).process_batch() == 5

        assert await outcomes(session) == [
            (e["id"], EventStatus.done, None) for e in (first, removed, pulled_gone, again, pulled)
        ]
        repository = await session.scalar(select(Repository))
        assert repository is not None and repository.name == "app"
        tag = await session.scalar(select(Tag))
        assert tag is not None and (tag.name, tag.repository_id) == ("2.0", repository.id)
        assert tag.pulled_at == datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
        keys = list(
            await session.scalars(
                select(Activity.key)
                .where(Activity.trackable_type.in_(["Repository", "Namespace"]))
                .where(Activity.key != "namespace.create")
                .order_by(Activity.id)
            )
        )
        assert keys == [
            "repository.push",
            "repository.delete",
            "namespace.delete",
            "repository.push",
        ]

    async def test_a_failed_event_leaves_nothing_for_the_next_ones(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The failing event created the namespace and the repository before it failed: its
        savepoint undid them, and the next event of the batch creates them again."""
        await factories.create_registry(session)
        await factories.create_user(session, username="root", admin=True)
        real_enqueue = webhooks.enqueue

        async def broken_for_one_tag(
            session: AsyncSession, namespace_id: int, kind: Any, payload: dict[str, Any], **kw: Any
        ) -> int:
            if payload["target"]["tag"] == "broken":
                raise RuntimeError("this event cannot be handled")
            return await real_enqueue(session, namespace_id, kind, payload, **kw)

        monkeypatch.setattr(webhooks, "enqueue", broken_for_one_tag)
        broken = push("newteam/app", "broken", "sha256:aa", actor="root")
        good = push("newteam/app", "good", "sha256:bb", actor="root")
        await post(client, broken, good)
        assert await worker_for(sessionmaker, settings).process_batch() == 2

        assert await outcomes(session) == [
            (broken["id"], EventStatus.fresh, "RuntimeError: this event cannot be handled"),
            (good["id"], EventStatus.done, None),
        ]
        namespace = await session.scalar(select(Namespace).where(Namespace.name == "newteam"))
        assert namespace is not None
        tag = await session.scalar(select(Tag))
        assert tag is not None and tag.name == "good"
        repository = await session.get(Repository, tag.repository_id)
        assert repository is not None and repository.namespace_id == namespace.id
