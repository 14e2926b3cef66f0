"""Per-client limit on failed logins (`login_rate_limit`), shared by every replica.

Account lockout (ten wrong passwords lock that account) stops guessing one user's password;
this stops one client from guessing many users' passwords, and answers 429 with Retry-After
rather than locking accounts. Only password attempts are refused: an application token is
128 random bits, and refusing it would let an attacker lock a CI pipeline out from its address.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from app.core.config import LoginRateLimitSettings
from app.core.db import session_scope, utcnow
from app.models import LoginFailure


class TooManyFailures(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins from this address: retry in {retry_after} s")
        self.retry_after = retry_after


def client_address(connection: HTTPConnection) -> str:
    """The peer (uvicorn has already put a trusted proxy's X-Forwarded-For there)."""
    return (connection.client.host if connection.client else "unknown")[:64]


async def check(
    sessionmaker: async_sessionmaker[AsyncSession], limit: LoginRateLimitSettings, client: str
) -> None:
    if not limit.enabled:
        return
    async with session_scope(sessionmaker) as session:
        row = (
            await session.execute(
                select(LoginFailure.failures, LoginFailure.window_started_at).where(
                    LoginFailure.client == client
                )
            )
        ).first()
    if row is None or row.failures < limit.attempts:
        return
    remaining = row.window_started_at + timedelta(seconds=limit.window) - utcnow()
    if remaining.total_seconds() > 0:
        raise TooManyFailures(max(1, math.ceil(remaining.total_seconds())))


async def record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], limit: LoginRateLimitSettings, client: str
) -> None:
    """One more failure in the client's window (a new window if the last one ended): one
    atomic upsert, so concurrent failures all count."""
    if not limit.enabled:
        return
    now = utcnow()
    expired = LoginFailure.window_started_at <= now - timedelta(seconds=limit.window)
    async with session_scope(sessionmaker) as session:
        insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        statement = insert(LoginFailure).values(client=client, window_started_at=now, failures=1)
        statement = statement.on_conflict_do_update(
            index_elements=[LoginFailure.client],
            set_={
                "failures": case((expired, 1), else_=LoginFailure.failures + 1),
                "window_started_at": case((expired, now), else_=LoginFailure.window_started_at),
            },
        )
        await session.execute(statement)


async def forget_expired(session: AsyncSession, limit: LoginRateLimitSettings) -> int:
    cutoff = utcnow() - timedelta(seconds=limit.window)
    result = await session.execute(
        delete(LoginFailure).where(LoginFailure.window_started_at <= cutoff)
    )
    return int(getattr(result, "rowcount", 0) or 0)
