"""The request middleware: a request id for the logs, and the request metrics.

A pure ASGI middleware (BaseHTTPMiddleware would run every request in a task of its own and
copy the body through a stream: too dear for the token endpoint, which answers in milliseconds).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import metrics
from app.core.logs import REQUEST_ID, REQUEST_ID_HEADER, request_id_from

_HEADER_NAME = REQUEST_ID_HEADER.lower().encode()
UNMATCHED = "<unmatched>"
# Any other method a client makes up shares one label (labels are never client-chosen).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's path template (`/api/v1/users/{id}`), never the raw path: the label
    set stays as small as the route table. Paths no route matched share one label."""
    route: Any = scope.get("route")
    if route is None:
        return UNMATCHED
    # Mounts on the way extended root_path: that prefix, then the route's own template.
    prefix = str(scope.get("root_path", ""))[len(root_path) :]
    if isinstance(route, Mount):
        return f"{prefix}/{{path}}" if prefix != "/" else "/{path}"
    # FastAPI >= 0.16x leaves the route as declared in `scope["route"]` (without the prefixes
    # of the routers including it) and the routed template in its per-request context.
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    template = getattr(getattr(context, "starlette_route", None), "path_format", None) or getattr(
        context, "path_format", None
    )
    return prefix + str(template or getattr(route, "path", UNMATCHED))


class RequestMiddleware:
    def __init__(self, app: ASGIApp, *, record_metrics: bool) -> None:
        self.app = app
        self.record_metrics = record_metrics
        # Bounded like the label sets: routes x methods x status codes.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == _HEADER_NAME:
                incoming = value
                break
        request_id = request_id_from(incoming)
        header = (_HEADER_NAME, request_id.encode())
        token = REQUEST_ID.set(request_id)
        status = 500  # unless the app answers: an exception that escapes is a 500
        root_path = str(scope.get("root_path", ""))
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.record_metrics:
                elapsed = time.perf_counter() - started
                route = route_template(scope, root_path)
                method = scope["method"] if scope["method"] in _METHODS else "OTHER"
                key = (method, route, status)
                children = self._children.get(key)
                if children is None:
                    # labels() takes a lock and builds a key: once per label set, not per request
                    children = (
                        metrics.HTTP_REQUESTS.labels(method, route, str(status)),
                        metrics.HTTP_LATENCY.labels(method, route),
                    )
                    self._children[key] = children
                children[0].inc()
                children[1].observe(elapsed)
        # Reset only after a normal end: an exception is logged further out (the last-resort
        # 500 handler, uvicorn), and those lines belong to this request too.
        REQUEST_ID.reset(token)
