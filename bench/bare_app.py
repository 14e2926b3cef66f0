"""The ceiling `token_bench.py` measures against: a FastAPI app with one route, nothing else.

Served by uvicorn in a process of its own, with the settings `portus serve` uses (uvloop and
httptools when installed, proxy headers, no access log), so that what separates a workload's
figures from this one's is the work of our service, not the server or the client.

With `BENCH_FLOOR_DSN` (a PostgreSQL database) it also answers the floors: the least work a
request of that kind can do in this stack, with none of the service's code.

  GET  /floor/token  one query on a pooled asyncpg connection, then an ES256 JWT signed with
                     python-jose, as JSON: what a registry token needs at the very least
  POST /floor/write  the request's JSON body stored as a row in one transaction (BEGIN, an
                     INSERT ... ON CONFLICT DO NOTHING, COMMIT): what storing an event needs
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

_FLOOR_DSN = os.environ.get("BENCH_FLOOR_DSN")
_floor: dict[str, Any] = {}


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    if not _FLOOR_DSN:
        yield
        return
    import asyncpg
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jose import jwk

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    pool = await asyncpg.create_pool(_FLOOR_DSN, min_size=1, max_size=10)
    await pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_floor"
        " (id bigserial PRIMARY KEY, event_id text UNIQUE NOT NULL, data jsonb NOT NULL)"
    )
    _floor.update(pool=pool, key=jwk.construct(pem, "ES256"))
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/ping")
async def ping() -> dict[str, bool]:
    return {"pong": True}


@app.get("/floor/token")
async def floor_token() -> dict[str, Any]:
    from jose import jwt

    async with _floor["pool"].acquire() as conn:
        row = await conn.fetchrow("SELECT 1 AS one")
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 300, "n": row["one"]}
    token = jwt.encode(claims, _floor["key"], algorithm="ES256")
    return {"token": token, "access_token": token, "expires_in": 300}


@app.post("/floor/write", status_code=202)
async def floor_write(request: Request) -> dict[str, int]:
    body = await request.body()
    event_id = json.loads(body)["events"][0]["id"]
    async with _floor["pool"].acquire() as conn, conn.transaction():
        status = await conn.execute(
            "INSERT INTO bench_floor (event_id, data) VALUES ($1, $2::jsonb)"
            " ON CONFLICT (event_id) DO NOTHING",
            event_id,
            body.decode(),
        )
    return {"stored": int(status.rsplit(" ", 1)[1])}
