"""The queue kit: claiming due rows, leases, back-off, one-at-a-time locks, and every SQL
construct that differs between PostgreSQL and SQLite.

Work is rows (registry events, webhook deliveries, mails) inserted in the caller's transaction
and claimed by background senders, or periodic passes that run once at a time across processes.
The machinery is the same for each, and so are its dialect differences:

- Claiming: on PostgreSQL the claim locks the rows it selects (`FOR UPDATE SKIP LOCKED`) until
  its transaction ends, and other claimers skip them without waiting. SQLite has one writer: a
  transaction that may write starts with `BEGIN IMMEDIATE` (see `app.core.db`), so a claim
  already holds the whole database and selects and updates inside its write transaction.
- Leases: a claim that outlives its transaction (a request in flight) sets a time until which
  the row is taken; the row is free again when it is cleared or has run out, and it is cleared
  only by the holder of that very lease.
- Back-off: one exponential policy with a cap (and optional jitter).
- One at a time across processes: a PostgreSQL advisory lock held by a connection, or an
  exclusive `flock` on SQLite (one machine by nature); both die with their process.

Tables and columns are the callers' arguments: the kit knows no model.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import random
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Update,
    any_,
    bindparam,
    literal_column,
    or_,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.selectable import GenerativeSelect

from app.core.files import private_directory

# What a dialect can be read from: a session, a sessionmaker, an engine or a connection (async
# or not), or the dialect's name itself.
Bind = (
    AsyncSession
    | async_sessionmaker[AsyncSession]
    | AsyncEngine
    | AsyncConnection
    | Engine
    | Connection
    | str
)
S = TypeVar("S", bound=GenerativeSelect)


# --- the dialect -------------------------------------------------------------------------------
def dialect_of(bind: Bind) -> str:
    if isinstance(bind, str):
        return bind
    if isinstance(bind, AsyncSession):
        return bind.get_bind().dialect.name
    if isinstance(bind, async_sessionmaker):
        return dialect_of(bind.kw["bind"])
    return bind.dialect.name


def is_postgresql(bind: Bind) -> bool:
    return dialect_of(bind) == "postgresql"


def _insert(bind: Bind, table: Any) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT (PostgreSQL's, else SQLite's: both have ON CONFLICT)."""
    return postgresql.insert(table) if is_postgresql(bind) else sqlite.insert(table)


def insert_ignore(bind: Bind, table: Any, *, conflict: Sequence[Any]) -> Insert:
    """`INSERT ... ON CONFLICT (conflict) DO NOTHING`; add `.values()` / `.returning()`."""
    statement: Insert = _insert(bind, table).on_conflict_do_nothing(index_elements=conflict)
    return statement


def upsert(bind: Bind, table: Any, *, conflict: Sequence[Any], set_: Mapping[str, Any]) -> Insert:
    """`INSERT ... ON CONFLICT (conflict) DO UPDATE SET set_`; add `.values()` and, for the
    row as it ends up, `.returning()`."""
    statement: Insert = _insert(bind, table).on_conflict_do_update(
        index_elements=conflict, set_=set_
    )
    return statement


def for_update(statement: S, bind: Bind, *, skip_locked: bool = False, of: Any = None) -> S:
    """`statement` locking the rows it reads until the transaction ends (PostgreSQL); unchanged
    on SQLite, whose write transactions run one at a time anyway."""
    if is_postgresql(bind):
        return statement.with_for_update(skip_locked=skip_locked, of=of)
    return statement


def byte_order(expression: ColumnElement[str], bind: Bind) -> ColumnElement[str]:
    """`expression` compared byte by byte: `COLLATE "C"` on PostgreSQL (as an index on it is
    built), as is on SQLite (which compares bytes anyway)."""
    return expression.collate("C") if is_postgresql(bind) else expression


def in_integers(
    column: ColumnElement[int] | QueryableAttribute[int],
    values: Iterable[int],
    bind: Bind,
    *,
    name: str,
) -> ColumnElement[bool]:
    """`column IN values` with the integers inlined in the SQL text, so only for integers from
    the database, never from a request. On PostgreSQL one array constant (SQLAlchemy's
    `literal_execute` rendered each of 700 values on every execution: 0.8 ms a page); elsewhere
    an expanding IN rendered as literals (`name`: its bind parameter's)."""
    if is_postgresql(bind):
        array = "'{" + ",".join(str(int(value)) for value in values) + "}'::bigint[]"
        return column == any_(literal_column(array, ARRAY(BigInteger)))
    inline: BindParameter[list[int]] = bindparam(
        name, list(values), expanding=True, literal_execute=True
    )
    return column.in_(inline)


# --- claiming due rows and leases ----------------------------------------------------------------
def for_claim(statement: S, bind: Bind, *, of: Any = None) -> S:
    """`statement` (the due rows: ordered and limited by the caller) made to claim them for
    the transaction: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so concurrent claimers never get
    the same row and never wait for each other (`of`: the table whose rows are locked, when
    it joins others). SQLite's claim holds the one write lock: the select is enough."""
    return for_update(statement, bind, skip_locked=True, of=of)


def lease_free(lease: Any, now: datetime) -> ColumnElement[bool]:
    """Not taken: the lease column is empty or its time has come."""
    return or_(lease.is_(None), lease <= now)


def take_lease(
    entity: Any, where: ColumnElement[bool], lease: Any, until: datetime, **values: Any
) -> Update:
    """Sets the lease of the claimed rows `where` to `until` (and `values`)."""
    return update(entity).where(where).values({lease.key: until, **values})


def release_lease(
    entity: Any, where: ColumnElement[bool], lease: Any, until: datetime, **values: Any
) -> Update:
    """Clears the lease of the rows `where` (and sets `values`) only while they still hold the
    lease `until`: one that ran out may have been taken by another claimer since, whose it is."""
    return update(entity).where(where, lease == until).values({lease.key: None, **values})


# --- back-off ----------------------------------------------------------------------------------
MAX_DOUBLINGS = 60  # far past any cap; keeps the arithmetic small


@dataclass(frozen=True)
class Backoff:
    """The wait after the n-th failure in a row: `first * 2**(n - 1)` seconds, at most `cap`;
    with `jitter`, up to that fraction of it is taken off at random (the wait never exceeds
    the policy's)."""

    first: float
    cap: float
    jitter: float = 0.0

    def seconds(self, failures: int) -> float:
        doublings = max(0, min(failures - 1, MAX_DOUBLINGS))
        wait = float(min(self.cap, self.first * 2**doublings))
        if self.jitter:
            wait -= wait * self.jitter * random.random()  # noqa: S311 (spreading, not secrecy)
        return wait

    def delay(self, failures: int) -> timedelta:
        return timedelta(seconds=self.seconds(failures))


# --- one at a time across processes --------------------------------------------------------------
def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for the lock `name` (its prefix dates from when
    only periodic tasks took these locks: processes of either version exclude each other)."""
    digest = hashlib.sha256(f"portus-task:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def exclusive(
    bind: AsyncEngine | AsyncConnection, name: str, directory: Path
) -> contextlib.AbstractAsyncContextManager[bool]:
    """Yields whether this process holds the lock `name` (never waits for it), until the block
    ends. With a PostgreSQL engine: a session-level advisory lock on a connection held for the
    block (if the process dies, the connection closes and the lock is gone). Otherwise an
    exclusive `flock` on `directory/<name>.lock`, which the kernel releases with the process."""
    if isinstance(bind, AsyncEngine) and is_postgresql(bind):
        return _advisory_lock(bind, name)
    return _file_lock(directory, name)


@contextlib.asynccontextmanager
async def _advisory_lock(engine: AsyncEngine, name: str) -> AsyncIterator[bool]:
    key = lock_key(name)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        taken = bool(
            await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key})
        )
        try:
            yield taken
        finally:
            if taken:
                await _unlock(connection, key)


async def _unlock(connection: AsyncConnection, key: int) -> None:
    try:
        await asyncio.shield(
            connection.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
        )
    except BaseException:
        # A connection that may still hold the lock must never go back to the pool.
        await connection.invalidate()
        raise


def _open_lock_file(directory: Path, name: str) -> int:
    private_directory(directory)
    return os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.asynccontextmanager
async def _file_lock(directory: Path, name: str) -> AsyncIterator[bool]:
    descriptor = _open_lock_file(directory, name)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(descriptor)  # closing releases the lock
