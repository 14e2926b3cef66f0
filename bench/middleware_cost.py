"""The request middleware's own cost: a bare ASGI app, then the same app behind it with metrics
off and on, called in-process (no server, no client: nothing else in the measurement).

    .venv/bin/python bench/middleware_cost.py [--calls 50000] [--rounds 3]

Prints microseconds per request for each, the best of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.middleware import RequestMiddleware


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: Message) -> None:
    return None


def request_scope() -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "path": "/v2/token",
        "root_path": "",
        "headers": [(b"host", b"portus"), (b"authorization", b"Basic YTpi")],
    }


async def per_request(app: ASGIApp, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        await app(request_scope(), receive, send)
    return (time.perf_counter() - started) / calls * 1e6


async def main(calls: int, rounds: int) -> None:
    apps: dict[str, ASGIApp] = {
        "bare app": bare,
        "middleware, metrics off": RequestMiddleware(bare, record_metrics=False),
        "middleware, metrics on": RequestMiddleware(bare, record_metrics=True),
    }
    best = {name: float("inf") for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            best[name] = min(best[name], await per_request(app, calls))
    for name, micros in best.items():
        print(f"{name:<26}{micros:8.2f} us/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=50000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds))
