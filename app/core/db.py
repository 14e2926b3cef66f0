"""Database plumbing shared by every domain: metadata, column types, engines, sessions."""

from __future__ import annotations

import enum
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, Table, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    OperationalError,
)
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session
from sqlalchemy.types import TypeDecorator

from app.core.errors import Conflict, ServiceUnavailable, Unstorable, is_data_exception
from app.core.files import private_sqlite_database

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if isinstance(table, Table) and has_integer_id(table):
            # Without AUTOINCREMENT SQLite hands a deleted row's id (the highest) to the next
            # insert, and what still names the old id (activities) then reads as the new row's.
            # Set here rather than in each model's __table_args__ so that no table forgets it.
            table.dialect_kwargs["sqlite_autoincrement"] = True


def has_integer_id(table: Table) -> bool:
    """A single integer primary key, numbered by the database."""
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        return False
    return isinstance(columns[0].type, Integer) and not columns[0].foreign_keys


# SQLite only has 64-bit INTEGER primary keys when the type is exactly INTEGER.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")
JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


E = TypeVar("E", bound=enum.IntEnum)


class IntEnumType(TypeDecorator[E], Generic[E]):
    """Stores an IntEnum as its integer (Portus stores roles and visibilities as small ints)."""

    impl = Integer
    cache_ok = True

    def __init__(self, enum_class: type[E]) -> None:
        super().__init__()
        self.enum_class = enum_class

    def process_bind_param(self, value: E | int | None, dialect: Dialect) -> int | None:
        return None if value is None else int(value)

    def process_result_value(self, value: int | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum_class(value)


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            private_sqlite_database(Path(database))
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _install_sqlite_hooks(engine)
        return engine
    # hide_parameters: statement errors are logged without their values (token digests...).
    engine = create_async_engine(
        url,
        # No overflow: an overflow connection is closed when it comes back, so under a steady
        # load above the pool's size every request paid a new connection (TLS attempt, startup,
        # the dialect's set-up queries): 2.3 ms of CPU per stored event at 32 clients.
        pool_size=pool_size,
        max_overflow=0,
        hide_parameters=True,
        # Short OLTP queries: PostgreSQL's JIT compiles plans of large tables for longer than
        # they run (measured: 145 ms of JIT on a 25-row page at 100k repositories).
        connect_args={"server_settings": {"jit": "off"}} if url.startswith("postgresql") else {},
    )
    _check_liveness(engine)
    return engine


# A pooled connection idle for longer than this is pinged before it is used again.
PING_AFTER_IDLE_SECONDS = 10.0


def _check_liveness(engine: AsyncEngine) -> None:
    """A pooled connection is checked before use when it may have died unnoticed: closed (the
    driver saw the server end it: a restart, an idle timeout) or idle for a while (a firewall
    may have dropped it silently), then pinged as `pool_pre_ping` would. A refused one is
    replaced by the pool. `pool_pre_ping` pinged on every checkout, three round trips on
    asyncpg (BEGIN, an empty statement, ROLLBACK): more than the queries of most requests."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        is_closed = getattr(record.driver_connection, "is_closed", None)
        if is_closed is not None and is_closed():
            raise DisconnectionError("the database closed this connection")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the connection did not answer a ping") from exc


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    """Real transactions (pysqlite's implicit BEGIN breaks savepoints), foreign keys, WAL.

    `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then
    writes fails at once with "database is locked" when another one wrote meanwhile (the busy
    timeout does not apply to that upgrade). The embedded database trades concurrency for that.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# An asyncpg connection (PostgreSQL, from the hot-path pool) or a SQLAlchemy connection.
ReadConn = AsyncConnection | Any
ReadConnection = Callable[[], AbstractAsyncContextManager[ReadConn]]


async def _nothing_to_reset(connection: asyncpg.Connection) -> None:
    """The hot path only reads (no SET, LISTEN, advisory lock or cursor): its connections have
    no session state to reset when they go back to the pool. asyncpg's default reset is a
    statement, a round trip on every release, as dear as the token's own query. (asyncpg still
    rolls back a transaction left open before calling this.)"""


@asynccontextmanager
async def open_read_connections(
    bind: AsyncEngine | AsyncConnection,
) -> AsyncIterator[ReadConnection]:
    """Connections for the read-only hot path (`/v2/token`), without BEGIN/COMMIT round trips.

    On PostgreSQL: a small asyncpg pool of its own (checkout is a few microseconds; SQLAlchemy's
    pool with its pre-ping costs a round trip). Elsewhere: autocommit SQLAlchemy connections.
    Tests bind everything to one connection inside a transaction; reads then use that one.
    """
    if isinstance(bind, AsyncConnection) or bind.dialect.name != "postgresql":
        yield lambda: read_scope(bind)
        return
    dsn = bind.url.set(drivername="postgresql").render_as_string(hide_password=False)
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=10, server_settings={"jit": "off"}, reset=_nothing_to_reset
    )
    try:

        @asynccontextmanager
        async def pooled() -> AsyncIterator[ReadConn]:
            async with pool.acquire() as conn:
                yield conn

        yield pooled
    finally:
        await pool.close()


@asynccontextmanager
async def autocommit_scope(bind: AsyncEngine | AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A connection outside any transaction, returned to the pool at once: each statement is a
    transaction of its own, with no BEGIN and COMMIT round trips (and on SQLite no BEGIN
    IMMEDIATE). For reads, and for a write that is one statement atomic by itself (an INSERT ...
    ON CONFLICT of all its rows); anything more needs a transaction. Tests bind everything to one
    connection inside a transaction; statements then run on that one."""
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with bind.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        yield conn


# A few reads outside any transaction.
read_scope = autocommit_scope


class ReadOnlyRequest(RuntimeError):
    """A GET request tried to write: its session has no transaction (see `get_session`)."""


class ReadOnlySession(Session):
    """The session of a GET or HEAD request: it reads, and a write is a programming error (a
    500), never a write outside a transaction."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        raise ReadOnlyRequest("a GET request must not change anything")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_dml(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyRequest("a GET request must not change anything")


SAFE_METHODS = frozenset({"GET", "HEAD"})


def create_read_sessionmaker(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Sessions like `sessionmaker`'s that read on autocommit connections (no BEGIN, no COMMIT)
    and refuse to write. Tests bind everything to one connection inside a transaction; their
    reads then use that one, as `read_scope` does."""
    options = dict(sessionmaker.kw, sync_session_class=ReadOnlySession)
    bind = options["bind"]
    if isinstance(bind, AsyncEngine):
        options["bind"] = bind.execution_options(isolation_level="AUTOCOMMIT")
    return async_sessionmaker(**options)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One request, one transaction: commit on success, roll back on any error.

    A GET or HEAD request reads without a transaction instead (`create_read_sessionmaker`): two
    round trips fewer (BEGIN, COMMIT), and on SQLite no write lock taken just to read. Its
    session refuses to write (`ReadOnlyRequest`)."""
    read_only = request.method in SAFE_METHODS
    state = request.state.app
    sessionmaker: async_sessionmaker[AsyncSession] = (
        state.read_sessionmaker if read_only else state.sessionmaker
    )
    async with sessionmaker() as session:
        try:
            yield session
            if read_only:
                await session.flush()  # a change is refused here; there is nothing to commit
            else:
                await session.commit()
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict("the change conflicts with existing data") from exc
        except OperationalError as exc:
            await session.rollback()
            if "database is locked" in str(exc):
                raise ServiceUnavailable("the database is busy: retry in a moment") from exc
            raise
        except DBAPIError as exc:
            await session.rollback()
            if not is_data_exception(exc):
                raise
            raise Unstorable() from exc
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a failed commit is an error
# response rather than a 200 for a lost write.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


@asynccontextmanager
async def session_scope(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A transaction for background work and the CLI (outside a request)."""
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
