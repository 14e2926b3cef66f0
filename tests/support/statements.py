"""Counting the SQL statements a request runs: a list whose statement count grows with its rows
has an N+1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection


@contextmanager
def counted_statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """The statements run on `connection` (the tests' connection, which requests share) inside
    the block; savepoint bookkeeping left out."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = str(args[2])
        if not statement.upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement)

    sync = connection.sync_connection
    assert sync is not None
    event.listen(sync, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", record)
