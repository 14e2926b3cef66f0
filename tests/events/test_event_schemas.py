"""The typed notifications: what the intake refuses (and how it says so), what it accepts
leniently, and that the registry's JSON is what is stored, handled and sent to webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.errors import BadRequest
from app.models import EventStatus, Namespace, RegistryEvent, Tag, Webhook, WebhookDelivery
from app.registry.events import service
from app.registry.events.schemas import Event, EventRefused, registry_time, stored_event
from app.registry.events.worker import MAX_ATTEMPTS
from tests.events.test_events import event, post, push, worker_for
from tests.fixtures import factories


def refusal(body: Any) -> str:
    with pytest.raises(BadRequest) as caught:
        service.parse_envelope(json.dumps(body).encode())
    assert isinstance(caught.value.message, str)
    return caught.value.message


GOOD = {"id": "e1", "action": "push", "target": {}}


class TestRefusals:
    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ([], 'the body must be an object with an "events" list'),
            ({}, 'the body must be an object with an "events" list'),
            ({"events": {}}, 'the body must be an object with an "events" list'),
            ({"events": [GOOD, 3]}, "events[1] must be an object"),
            (
                {"events": [{"action": "push", "target": {}}]},
                "events[0].id must be a non-empty string",
            ),
            ({"events": [GOOD | {"id": ""}]}, "events[0].id must be a non-empty string"),
            ({"events": [GOOD | {"id": 7}]}, "events[0].id must be a non-empty string"),
            ({"events": [GOOD | {"action": None}]}, "events[0].action must be a string"),
            ({"events": [GOOD | {"target": []}]}, "events[0].target must be an object"),
            ({"events": [{"id": "e1"}]}, "events[0].action must be a string"),
        ],
    )
    def test_the_message_names_the_problem(self, body: Any, message: str) -> None:
        assert refusal(body) == message

    def test_the_first_event_first_and_its_fields_in_order(self) -> None:
        body = {"events": [GOOD, {"id": "", "action": 1, "target": 2}, {"id": 3}]}
        assert refusal(body) == "events[1].id must be a non-empty string"
        body = {"events": [{"id": "x", "action": 1, "target": 2}]}
        assert refusal(body) == "events[0].action must be a string"


class TestLenientFields:
    def test_fields_of_another_type_read_as_missing(self) -> None:
        data = {
            "id": "e1",
            "action": "push",
            "timestamp": 12,
            "target": {"repository": ["a"], "tag": 5, "digest": None, "size": True, "length": "4"},
            "request": "GET",
            "actor": [1],
            "source": {"addr": 9, "instanceID": "i"},
        }
        parsed = Event.model_validate(data)
        target = parsed.target
        assert (target.repository, target.tag, target.digest) == (None, None, None)
        assert (target.size, target.length) == (None, None)
        assert parsed.request is None and parsed.actor is None
        assert parsed.source is not None
        assert (parsed.source.addr, parsed.source.instance_id) == (None, "i")
        assert parsed.occurred_at is None
        assert parsed.payload is data

    def test_other_actions_and_unknown_fields_validate(self) -> None:
        raw = json.dumps(
            {"events": [{"id": "m", "action": "mount", "target": {"x": 1}, "new": {"a": []}}]}
        ).encode()
        [parsed] = service.parse_envelope(raw)
        assert parsed.action == "mount"
        assert not service.is_relevant(parsed)
        assert parsed.payload["new"] == {"a": []}

    async def test_a_request_or_actor_that_is_no_object_is_accepted(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        """Once a 500 (the intake read them as dicts): the registry would retry it forever."""
        pull = event("pull", "alice/app", tag="1.0", method="GET") | {"request": "GET"}
        odd_actor = push("alice/app", "1.0", "sha256:aa") | {"actor": ["alice"]}
        response = await post(client, pull, odd_actor)
        assert response.status_code == 202
        assert response.json() == {"stored": 1}  # the push; the pull is no GET it can tell


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-29T01:38:46.983704042Z", datetime(2026, 11, 29, 1, 38, 46, 983704, tzinfo=UTC)),
        ("2026-11-29T01:38:46Z", datetime(2026, 11, 29, 1, 38, 46, tzinfo=UTC)),
        (
            "2026-11-29T01:38:46+02:00",
            datetime(2026, 11, 29, 1, 38, 46, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-11-29T01:38:46", None),  # no zone: not the registry's
        ("yesterday", None),
        (None, None),
    ],
)
def test_registry_time(text: str | None, expected: datetime | None) -> None:
    assert registry_time(text) == expected


# Any JSON value in any of the fields the model reads.
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = {
    "id": st.one_of(st.text(), JSON),
    "action": st.one_of(st.sampled_from(["push", "pull", "delete"]), JSON),
    "target": st.one_of(
        st.dictionaries(
            st.sampled_from(["mediaType", "digest", "repository", "tag", "size", "length"]), JSON
        ),
        JSON,
    ),
    "timestamp": st.one_of(st.text(), JSON),
    "request": st.one_of(st.dictionaries(st.sampled_from(["host", "method"]), JSON), JSON),
    "actor": st.one_of(st.dictionaries(st.just("name"), JSON), JSON),
    "source": JSON,
}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=FIELDS))
def test_a_stored_event_validates_or_is_refused(data: dict[str, Any]) -> None:
    """Whatever a row holds, validating it answers an Event that keeps the row's JSON, or
    `EventRefused`: never another error (the worker turns that into a failed event)."""
    try:
        parsed = stored_event(data)
    except EventRefused as exc:
        problem = str(exc)
    else:
        problem = ""
        assert parsed.payload is data
        assert parsed.id == data["id"]
        assert parsed.occurred_at is None or parsed.occurred_at.tzinfo is not None
    assert problem == "" or problem.startswith("event.")


class TestStoredJson:
    async def test_the_row_and_the_webhook_keep_the_registry_json(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
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
        sent = push("alice/app", "1.0", "sha256:aa", url="http://r/v2/x", custom={"k": [1, None]})
        sent |= {"source": {"addr": "vm:5000", "instanceID": "i-1"}, "later": "field"}
        assert (await post(client, sent)).json() == {"stored": 1}
        row = await session.scalar(select(RegistryEvent))
        assert row is not None and row.data == sent

        assert await worker_for(sessionmaker, settings).process_batch() == 1
        assert [t.name for t in await session.scalars(select(Tag))] == ["1.0"]
        payloads = list(await session.scalars(select(WebhookDelivery.payload)))
        assert payloads == [sent]

    async def test_a_row_that_no_longer_validates_fails_and_spares_its_batch(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
    ) -> None:
        await factories.create_registry(session)
        await factories.create_user(session, username="alice")
        broken = RegistryEvent(
            event_id="broken",
            action="push",
            repository="alice/app",
            status=EventStatus.fresh,
            data={"action": "push", "target": {"repository": "alice/app", "tag": "1.0"}},
            attempts=0,
        )
        session.add(broken)
        await session.commit()
        await post(client, push("alice/app", "good", "sha256:bb"))
        worker = worker_for(sessionmaker, settings)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert await worker.process_batch() == (2 if attempt == 1 else 1)
            await session.refresh(broken)
            assert broken.attempts == attempt
            assert broken.error == "EventRefused: event.id must be a non-empty string"
        assert broken.status == EventStatus.failed
        assert await worker.process_batch() == 0
        assert [t.name for t in await session.scalars(select(Tag))] == ["good"]
