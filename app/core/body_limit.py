"""Request-body size limits, enforced while the body streams in.

A pure ASGI middleware: an endpoint that reads its whole body (every JSON endpoint does) can
never hold more than its route class's limit in memory. A Content-Length over the limit is
answered at once, without reading anything; a body without one (chunked) is counted as it is
received and cut off as soon as it passes the limit. Either way the answer is a 413 in the
`{"message": ...}` envelope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVENTS_PATH = "/v2/webhooks/events"


@dataclass(frozen=True)
class BodyLimits:
    """Bytes allowed per route class: `events` for the registry's notifications, `api` for
    everything else (the REST API, /v2/token, sessions)."""

    api: int
    events: int

    def for_path(self, path: str) -> tuple[str, int]:
        if path.rstrip("/") == EVENTS_PATH:
            return "events", self.events
        return "api", self.api


class BodyTooLarge(Exception):
    """Raised into the application from `receive` when the body passes the limit."""


def _message(route_class: str, limit: int) -> bytes:
    text = (
        f"request body too large: at most {limit} bytes are accepted here "
        f"(request_limits.{route_class})"
    )
    return json.dumps({"message": text}).encode()


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The rest of the body is never read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route_class, limit = self.limits.for_path(scope["path"])
        declared = _content_length(scope)
        if declared == -1:
            await _send_json(send, 400, json.dumps({"message": "invalid Content-Length"}).encode())
            return
        if declared is not None and declared > limit:
            await _send_json(send, 413, _message(route_class, limit))
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the application makes of the cut-off body, the answer is 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            # The application may turn BodyTooLarge into its own error, or let it through.
            if not exceeded:
                raise
        if exceeded and not started:
            await _send_json(send, 413, _message(route_class, limit))


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent, -1 when not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else -1
    return None
