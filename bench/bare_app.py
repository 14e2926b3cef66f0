"""The ceiling `token_bench.py` measures against: a FastAPI app with one route, nothing else.

Served by uvicorn in a process of its own, with the settings `portus serve` uses (uvloop and
httptools when installed, proxy headers, no access log), so that what separates a workload's
figures from this one's is the work of our service, not the server or the client.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}
