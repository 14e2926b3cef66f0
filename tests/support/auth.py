"""Credentials for test requests: header builders, and users that come with a token.

The REST API takes `Portus-Auth: <user>:<application token>` (what most tests send), HTTP Basic
with a password or a token, or `Authorization: Bearer <application token>`; `/v2/token` takes
HTTP Basic.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import User
from tests.fixtures import factories

_counter = itertools.count(1)


# --- header builders -----------------------------------------------------------------------------
def portus_auth(username: str, token: str) -> dict[str, str]:
    return {"Portus-Auth": f"{username}:{token}"}


def basic(username: str, secret: str) -> dict[str, str]:
    """HTTP Basic with a password or an application token."""
    return raw_basic(f"{username}:{secret}".encode())


def raw_basic(credentials: bytes) -> dict[str, str]:
    """HTTP Basic of any bytes (malformed credentials included)."""
    return {"Authorization": "Basic " + base64.b64encode(credentials).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- users with a token --------------------------------------------------------------------------
async def token_headers(
    session: AsyncSession, digester: TokenDigester, user: User, application: str = "ci"
) -> dict[str, str]:
    """`Portus-Auth` headers with a new application token of `user`."""
    token = await factories.create_token(session, digester, user, application)
    return portus_auth(user.username, token)


async def new_user_and_headers(
    session: AsyncSession, digester: TokenDigester, **user: Any
) -> tuple[User, dict[str, str]]:
    """A new user (`factories.create_user` keyword arguments) and `Portus-Auth` headers with a
    new application token of theirs."""
    created = await factories.create_user(session, **user)
    return created, await token_headers(session, digester, created)


async def new_user_headers(
    session: AsyncSession, digester: TokenDigester, **user: Any
) -> dict[str, str]:
    """`new_user_and_headers`, the headers alone."""
    _, headers = await new_user_and_headers(session, digester, **user)
    return headers


async def admin_headers(
    session: AsyncSession, digester: TokenDigester, username: str | None = None
) -> dict[str, str]:
    """`Portus-Auth` headers of a new administrator (`admin<n>` unless named)."""
    name = username or f"admin{next(_counter)}"
    return await new_user_headers(session, digester, username=name, admin=True)


# --- browser sessions ----------------------------------------------------------------------------
async def login(
    client: httpx.AsyncClient, password: str, username: str = "alice"
) -> httpx.Response:
    """`POST /api/v1/session` (a password login; the answer sets the session cookie)."""
    return await client.post("/api/v1/session", json={"username": username, "password": password})
