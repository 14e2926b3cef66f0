from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import ClientFactory

SECRET = {"Authorization": "Bearer test-notification-secret"}
API_LIMIT = 4096
EVENTS_LIMIT = 65536
CHUNK = 1024
LIMITS = {"request_limits": {"api": API_LIMIT, "events": EVENTS_LIMIT}}


@pytest.fixture
async def limited(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(**LIMITS) as client:
        yield client


class Chunks:
    """A chunked request body (no Content-Length) that counts the chunks the server asked for."""

    def __init__(self, count: int, chunk: bytes = b" " * CHUNK) -> None:
        self.count = count
        self.chunk = chunk
        self.consumed = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            self.consumed += 1
            yield self.chunk


def json_of_size(size: int) -> bytes:
    """A JSON object of exactly `size` bytes (a session request with a padded password)."""
    head = b'{"user": {"username": "nobody", "password": "'
    tail = b'"}}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


class TestDeclaredLength:
    async def test_a_content_length_over_the_limit_is_refused_unread(
        self, limited: httpx.AsyncClient
    ) -> None:
        body = Chunks(1000)
        response = await limited.post(
            "/api/v1/users/bootstrap",
            content=body,
            headers={"Content-Length": str(1000 * CHUNK), "Content-Type": "application/json"},
        )
        assert response.status_code == 413
        assert str(API_LIMIT) in response.json()["message"]
        assert "request_limits.api" in response.json()["message"]
        assert body.consumed == 0

    async def test_an_invalid_content_length_is_400(self, limited: httpx.AsyncClient) -> None:
        response = await limited.post(
            "/api/v1/session",
            content=b"{}",
            headers={b"Content-Length": b"\xb2"},  # a Latin-1 digit
        )
        assert response.status_code == 400
        assert "Content-Length" in response.json()["message"]


class TestStreamedBody:
    @pytest.mark.parametrize(
        ("path", "content_type"),
        [
            ("/api/v1/session", "application/json"),
            ("/api/v1/users/bootstrap", "application/json"),
            ("/v2/token", "application/x-www-form-urlencoded"),
        ],
    )
    async def test_a_chunked_body_is_cut_off_past_the_limit(
        self,
        limited: httpx.AsyncClient,
        path: str,
        content_type: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        body = Chunks(100_000)  # ~100 MB if it were all read
        response = await limited.post(
            path,
            content=body,
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 413
        assert str(API_LIMIT) in response.json()["message"]
        # Read no further than the limit (and the chunk that passed it): memory stays flat.
        assert body.consumed <= API_LIMIT // CHUNK + 1
        # A client error, not logged as an unhandled one.
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    async def test_events_are_cut_off_at_their_own_limit(self, limited: httpx.AsyncClient) -> None:
        body = Chunks(100_000)
        response = await limited.post(
            "/v2/webhooks/events",
            content=body,
            headers=SECRET,
        )
        assert response.status_code == 413
        assert "request_limits.events" in response.json()["message"]
        assert body.consumed <= EVENTS_LIMIT // CHUNK + 1


class TestWithinTheLimit:
    async def test_a_body_exactly_at_the_limit_is_read(self, limited: httpx.AsyncClient) -> None:
        body = json_of_size(API_LIMIT)
        response = await limited.post("/api/v1/session", content=body)
        assert response.status_code != 413
        assert response.status_code in (400, 401, 422)  # read, then refused for its content

    async def test_one_byte_over_is_413(self, limited: httpx.AsyncClient) -> None:
        response = await limited.post("/api/v1/session", content=json_of_size(API_LIMIT + 1))
        assert response.status_code == 413

    async def test_a_chunked_body_at_the_limit_is_read(self, limited: httpx.AsyncClient) -> None:
        whole = json_of_size(API_LIMIT)
        parts = [whole[i : i + CHUNK] for i in range(0, len(whole), CHUNK)]

        async def stream() -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        response = await limited.post("/api/v1/session", content=stream())
        assert response.status_code in (400, 401, 422)

    async def test_the_events_route_takes_more_than_the_api(
        self, limited: httpx.AsyncClient
    ) -> None:
        # Larger than the API's limit, smaller than the events' one: read and answered.
        padding = "x" * (API_LIMIT * 4)
        body = json.dumps({"events": [], "padding": padding}).encode()
        assert API_LIMIT < len(body) < EVENTS_LIMIT
        response = await limited.post("/v2/webhooks/events", content=body, headers=SECRET)
        assert response.status_code == 202
        assert response.json() == {"stored": 0}
        refused = await limited.post("/api/v1/session", content=body)
        assert refused.status_code == 413

    async def test_the_defaults_take_an_ordinary_request(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/_ping")
        assert response.status_code == 200
