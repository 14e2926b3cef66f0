"""Request ids (X-Request-Id in and out, in every log line of the request), JSON lines, and no
credential ever written to a log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.core import logs
from app.core.middleware import RequestMiddleware
from tests.fixtures import factories
from tests.support.auth import portus_auth

probe_logger = logging.getLogger("tests.probe")


@contextmanager
def captured(log_format: str = "json", level: int = logging.DEBUG) -> Iterator[io.StringIO]:
    """The root logger's output, through the service's own handler (filter and formatter)."""
    stream = io.StringIO()
    handler = logs.handler_for("json" if log_format == "json" else "text")
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


async def _probe(request: Request) -> PlainTextResponse:
    probe_logger.info("first line of %s", request.url.path)
    probe_logger.warning("second line, Authorization: Bearer pat_abcdefgh_0123456789secret")
    return PlainTextResponse("ok")


def probe_client() -> httpx.AsyncClient:
    app = RequestMiddleware(Starlette(routes=[Route("/probe", _probe)]), record_metrics=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


class TestRequestId:
    async def test_a_sane_incoming_id_is_kept_and_echoed(self) -> None:
        async with probe_client() as client:
            response = await client.get("/probe", headers={"X-Request-Id": "abc-123.x:y_z"})
        assert response.headers["x-request-id"] == "abc-123.x:y_z"

    @pytest.mark.parametrize(
        "incoming", ["", "a" * 65, "has space", "semi;colon", 'quote"d', "ünïcode"]
    )
    async def test_anything_else_gets_a_fresh_one(self, incoming: str) -> None:
        async with probe_client() as client:
            response = await client.get("/probe", headers=[(b"X-Request-Id", incoming.encode())])
        generated = response.headers["x-request-id"]
        assert generated != incoming
        assert len(generated) == 32 and all(c in "0123456789abcdef" for c in generated)

    async def test_every_line_of_a_request_carries_its_id(self) -> None:
        with captured() as stream:
            async with probe_client() as client:
                first = await client.get("/probe")
                await client.get("/probe", headers={"X-Request-Id": "req-2"})
            probe_logger.info("outside any request")
        lines = [line for line in json_lines(stream) if line["logger"] == "tests.probe"]
        assert [line.get("request_id") for line in lines] == [
            first.headers["x-request-id"],
            first.headers["x-request-id"],
            "req-2",
            "req-2",
            None,
        ]
        assert lines[0]["message"] == "first line of /probe"
        assert lines[0]["level"] == "INFO"
        assert {"time", "level", "logger", "message"} <= set(lines[0])

    async def test_the_service_echoes_it(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/_ping", headers={"X-Request-Id": "from-proxy-1"})
        assert response.headers["x-request-id"] == "from-proxy-1"
        missing = await client.get("/api/v1/nope")
        assert len(missing.headers["x-request-id"]) == 32


class TestNoSecretsInLogs:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("Authorization: Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "eyJhbGciOi"),
            ("authorization: Basic YWxpY2U6c2VjcmV0", "YWxpY2U6c2VjcmV0"),
            ("headers={'authorization': 'Basic YWxpY2U6c2VjcmV0'}", "YWxpY2U6c2VjcmV0"),
            ('{"password": "hunter2hunter2"}', "hunter2hunter2"),
            ("password=hunter2hunter2&username=alice", "hunter2hunter2"),
            ("refresh_token=prt_lookup12_s3cr3tvalue", "s3cr3tvalue"),
            ("token pat_abcdefgh_0123456789secret in a message", "0123456789secret"),
            ("GET /v2/token?account=alice&password=hunter2hunter2", "hunter2hunter2"),
            ("Portus-Auth: alice:pat_abcdefgh_0123456789secret", "0123456789secret"),
            ("Cookie: portus_session=pss_abcdefgh_0123456789secret", "0123456789secret"),
            ("X-CSRF-Token: 9f8e7d6c5b4a", "9f8e7d6c5b4a"),
        ],
    )
    def test_credentials_are_masked(self, text: str, secret: str) -> None:
        masked = logs.mask_credentials(text)
        assert secret not in masked, masked
        assert logs.MASK in masked

    def test_plain_messages_are_left_alone(self) -> None:
        text = "registry event 42 skipped: the registry does not serve a/b@sha256:00"
        assert logs.mask_credentials(text) == text

    @pytest.mark.parametrize("log_format", ["json", "text"])
    def test_both_formats_mask_arguments_and_exceptions(self, log_format: str) -> None:
        with captured(log_format) as stream:
            probe_logger.info("login by %s with password=%s", "alice", "hunter2hunter2")
            try:
                raise ValueError("Authorization: Basic YWxpY2U6aHVudGVyMg==")
            except ValueError:
                probe_logger.exception("failed")
        output = stream.getvalue()
        assert "hunter2hunter2" not in output
        assert "YWxpY2U6aHVudGVyMg" not in output
        assert "login by alice" in output

    async def test_logins_and_tokens_never_reach_the_logs(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: object
    ) -> None:
        """Wrong and right passwords, application tokens, refresh tokens: with everything
        logged at DEBUG, none of them appears in any line."""
        from app.core.security import TokenDigester

        assert isinstance(digester, TokenDigester)
        await factories.create_registry(session)
        user = await factories.create_user(session, username="logged")
        app_token = await factories.create_token(session, digester, user)
        service = {"service": factories.REGISTRY_HOST}
        with captured() as stream:
            await client.post(
                "/api/v1/session", json={"username": "logged", "password": "wrong-Pa55word"}
            )
            await client.get("/v2/token", params=service, auth=("logged", factories.PASSWORD))
            await client.get("/v2/token", params=service, auth=("logged", "wrong-Pa55word"))
            granted = await client.get(
                "/v2/token", params=service | {"offline_token": "true"}, auth=("logged", app_token)
            )
            refresh = granted.json()["refresh_token"]
            await client.post(
                "/v2/token",
                data=service | {"grant_type": "refresh_token", "refresh_token": refresh},
            )
            await client.get("/api/v1/users", headers=portus_auth("logged", app_token))
        output = stream.getvalue()
        for secret in ("wrong-Pa55word", factories.PASSWORD, app_token, refresh):
            assert secret not in output


def test_configure_routes_uvicorn_through_the_service_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    access = logging.getLogger("uvicorn.access")
    saved_access = (list(access.handlers), access.propagate)
    try:
        logs.configure("json", logging.INFO)
        token = logs.REQUEST_ID.set("req-cli")
        try:
            access.info('127.0.0.1 - "GET /v2/token?password=hunter2hunter2 HTTP/1.1" 200')
        finally:
            logs.REQUEST_ID.reset(token)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["logger"] == "uvicorn.access"
        assert line["request_id"] == "req-cli"
        assert "hunter2hunter2" not in str(line["message"])
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        access.handlers[:] = saved_access[0]
        access.propagate = saved_access[1]
