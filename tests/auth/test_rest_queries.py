"""What an authenticated REST request asks the database: a GET authenticates on its own session,
where its handler then finds the user without asking again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.security import TokenDigester
from tests.fixtures import factories

# The savepoints of the tests' sessions are no queries of the request.
_BOOKKEEPING = ("SAVEPOINT", "RELEASE", "ROLLBACK TO")


@contextmanager
def _queries(connection: AsyncConnection) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(*args: Any) -> None:
        statement = " ".join(str(args[2]).split())
        if not statement.upper().startswith(_BOOKKEEPING):
            sent.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


async def test_get_me_asks_once(
    session: AsyncSession,
    client: httpx.AsyncClient,
    digester: TokenDigester,
    connection: AsyncConnection,
) -> None:
    alice = await factories.create_user(session, username="alice")
    headers = {"Portus-Auth": f"alice:{await factories.create_token(session, digester, alice)}"}
    await session.commit()
    with _queries(connection) as sent:
        response = await client.get("/api/v1/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    assert len(sent) == 1, sent
    assert "application_tokens" in sent[0]


async def test_a_wrong_token_is_refused_on_a_get_too(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    token = await factories.create_token(session, digester, alice)
    await session.commit()
    for headers in (
        {"Portus-Auth": f"bob:{token}"},  # another user's token
        {"Portus-Auth": f"alice:{token[:-1]}x"},  # a wrong secret
        {"Authorization": f"Bearer {token}x"},
    ):
        response = await client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401, headers
    del bob
