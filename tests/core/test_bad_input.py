"""Input that once made 500s (UnicodeEncodeError, RecursionError) answered with a 4xx, through
the real endpoints and the database of the run."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import RegistryEvent, Repository, Team
from tests.fixtures import factories
from tests.support.auth import portus_auth, token_headers

SECRET = {"Authorization": "Bearer test-notification-secret"}
JSON = {"Content-Type": "application/json"}


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def _event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "e1",
        "timestamp": "2026-11-29T01:38:46Z",
        "action": "push",
        "target": {
            "repository": "alice/app",
            "tag": "1",
            "digest": "sha256:1",
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
        },
        "request": {"host": factories.REGISTRY_HOST, "method": "PUT"},
        "actor": {"name": "alice"},
    }
    for key, value in overrides.items():
        if key in event["target"]:
            event["target"][key] = value
        else:
            event[key] = value
    return event


async def stored_events(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(RegistryEvent.id))) or 0)


@pytest.fixture
async def alice(session: AsyncSession, digester: TokenDigester) -> dict[str, str]:
    user = await factories.create_user(session, username="alice")
    return await token_headers(session, digester, user)


class TestCursor:
    async def test_a_lone_surrogate_in_a_cursor_is_a_422(
        self, session: AsyncSession, client: httpx.AsyncClient, alice: dict[str, str]
    ) -> None:
        registry = await factories.create_registry(session)
        namespace = await factories.create_namespace(session, registry)
        session.add(Repository(name="app", namespace_id=namespace.id))
        await session.flush()
        after = _cursor({"s": "name", "o": "asc", "v": ["\ud800", 1]})
        response = await client.get(
            "/api/v1/repositories", headers=alice, params={"sort_attr": "name", "after": after}
        )
        assert response.status_code == 422
        assert list(response.json()["message"]) == ["after"]


class TestRegistryEvents:
    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            (b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested deeper"),
            (json.dumps({"events": [_event(id="\ud800")]}).encode(), "events[0].id"),
            (json.dumps({"events": [_event(repository="\ud800")]}).encode(), "repository"),
            (json.dumps({"events": [_event(actor={"\udfff": 1})]}).encode(), "key"),
            (json.dumps({"events": [_event(id="a\x00b")]}).encode(), "NUL"),
            (b'{"events": [{"id": "x", "size": 1e999}]}', "out of range"),
            (b'{"events": [{"id": "x", "size": NaN}]}', "NaN"),
            (b'{"events": [{"id": "x", "size": ' + b"9" * 5000 + b"}]}", "not valid JSON"),
        ],
    )
    async def test_unstorable_or_too_deep_envelopes_are_400(
        self, session: AsyncSession, client: httpx.AsyncClient, body: bytes, problem: str
    ) -> None:
        await factories.create_registry(session)
        response = await client.post("/v2/webhooks/events", content=body, headers=SECRET)
        assert response.status_code == 400
        assert problem in response.json()["message"]
        assert await stored_events(session) == 0

    async def test_an_astral_character_escaped_as_a_pair_is_stored(
        self, session: AsyncSession, client: httpx.AsyncClient
    ) -> None:
        # A surrogate pair is a real character: only lone surrogates are refused.
        body = json.dumps({"events": [_event(id="e-\ud83d\ude80")]}).encode()
        response = await client.post("/v2/webhooks/events", content=body, headers=SECRET)
        assert response.status_code == 202
        assert response.json() == {"stored": 1}
        event_id = await session.scalar(select(RegistryEvent.event_id))
        assert event_id == "e-\U0001f680"


class TestJsonApi:
    @pytest.mark.parametrize(
        ("path", "body", "field"),
        [
            ("/api/v1/session", {"username": "alice", "password": "\ud800"}, "password"),
            ("/api/v1/session", {"username": "\ud800", "password": "x"}, "username"),
            (
                "/api/v1/users/bootstrap",
                {"user": {"username": "\udc00", "email": "a@b.c", "password": "12345678"}},
                "username",
            ),
            ("/api/v1/teams", {"name": "team\ud800"}, "name"),
            ("/api/v1/teams", {"name": "team", "description": "\udfff"}, "description"),
        ],
    )
    async def test_a_lone_surrogate_in_a_body_is_a_422_naming_the_field(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        alice: dict[str, str],
        path: str,
        body: dict[str, Any],
        field: str,
    ) -> None:
        # json.dumps escapes the surrogate (\ud800), as a client would send it.
        response = await client.post(path, content=json.dumps(body), headers=alice | JSON)
        assert response.status_code == 422, response.text
        message = response.json()["message"]
        assert field in message  # pydantic's own message, or Text's ("lone surrogate")
        assert await session.scalar(select(func.count(Team.id)).where(Team.name == "team")) == 0

    async def test_a_body_nested_100_000_deep_is_a_4xx(
        self, client: httpx.AsyncClient, alice: dict[str, str]
    ) -> None:
        body = b'{"name": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        response = await client.post("/api/v1/teams", content=body, headers=alice | JSON)
        assert 400 <= response.status_code < 500
        assert "message" in response.json()


class TestQueryAndPath:
    @pytest.mark.parametrize(
        "url",
        [
            "/api/v1/users/%ED%A0%80",  # a UTF-8-encoded surrogate: not UTF-8, decoded as U+FFFD
            "/api/v1/users/a%00b",
            "/api/v1/search?q=%ED%A0%80",
            "/api/v1/search?q=a%00b",
            "/api/v1/namespaces/validate?name=%ED%A0%80",
            "/api/v1/repositories?sort_attr=%ED%A0%80",
            "/api/v1/repositories?after=%ED%A0%80",
        ],
    )
    async def test_undecodable_or_nul_parameters_are_never_a_500(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester, url: str
    ) -> None:
        admin = await factories.create_user(session, username="root", admin=True)
        token = await factories.create_token(session, digester, admin)
        response = await client.get(url, headers=portus_auth("root", token))
        assert response.status_code < 500, response.text
        assert response.status_code in (200, 404, 422), response.text
