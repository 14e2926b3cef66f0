"""Queries of the token hot path, and of password logins.

The token endpoint runs them on an autocommit connection, without BEGIN and COMMIT: a request
with an application or refresh token costs one round trip (the token's owner, the registry, the
named namespaces and the owner's roles in them). On PostgreSQL they are hand-written SQL sent
straight to asyncpg (prepared once per connection, then reused), since SQLAlchemy's statement
building and result processing cost more than the query itself; elsewhere (the embedded SQLite)
the same queries go through SQLAlchemy Core. `TokenQueries` is what both provide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Row,
    String,
    and_,
    bindparam,
    case,
    delete,
    false,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core import queue
from app.core.db import ReadConn
from app.models import (
    AccountLoginFailure,
    ApplicationToken,
    LoginFailure,
    Namespace,
    RefreshToken,
    Registry,
    Role,
    TeamUser,
    User,
    Visibility,
    WebSession,
)


@dataclass(frozen=True)
class TokenOwner:
    """An application or refresh token's stored digest, with the facts about its user."""

    token_digest: str
    user_id: int
    username: str
    admin: bool
    bot: bool
    enabled: bool
    namespace_id: int | None
    password_changed_at: datetime
    token_created_at: datetime
    token_id: int
    service: str | None  # refresh tokens only


_USER_COLUMNS = (
    User.id,
    User.username,
    User.admin,
    User.bot,
    User.enabled,
    User.namespace_id,
    User.password_changed_at,
)

TokenKind = Literal["application", "refresh", "session"]


@dataclass(frozen=True)
class NamespaceRow:
    id: int
    name: str
    visibility: Visibility
    global_: bool
    role: Role | None


class TokenQueries(Protocol):
    """The queries of the hot path. Written twice: `AsyncpgQueries` (PostgreSQL) and
    `CoreQueries` (SQLite); tests/auth/test_token_queries.py checks that both return the same
    rows."""

    async def token_owner(self, kind: TokenKind, lookup: str) -> tuple[TokenOwner, Any] | None:
        """A token row of `kind` with its user, and one more column of the token: the
        application token's id, the refresh token's service, the browser session's expiry."""
        ...

    async def namespaces_for_service(
        self, *, service: str, names: Sequence[str], include_global: bool, user_id: int | None
    ) -> tuple[bool, list[NamespaceRow]]:
        """Whether `service` is a registry we know, and the named namespaces of that registry
        (and its global one) with the caller's role in each one's team: one statement."""
        ...

    async def token_owner_and_namespaces(
        self,
        kind: Literal["application", "refresh"],
        lookup: str,
        *,
        service: str,
        names: Sequence[str],
        include_global: bool,
    ) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
        """`token_owner` and `namespaces_for_service` with the owner's roles (the refresh
        token's service in the owner's `service`). The namespace columns are to be used only
        after the token's digest has been checked."""
        ...


# SQL, not a password (bandit S105 takes the name for one).
_PG_TOKEN_OWNER = """
SELECT t.token_digest, t.created_at, u.id, u.username, u.admin, u.bot, u.enabled,
       u.namespace_id, u.password_changed_at, t.id, {extra}
FROM {table} t JOIN users u ON u.id = t.user_id
WHERE t.lookup = $1
"""  # noqa: S105
_PG_TOKEN_OWNER_BY_KIND = {
    "application": _PG_TOKEN_OWNER.format(extra="t.id", table="application_tokens"),
    "refresh": _PG_TOKEN_OWNER.format(extra="t.service", table="refresh_tokens"),
    "session": _PG_TOKEN_OWNER.format(extra="t.expires_at", table="web_sessions"),
}

_PG_NAMESPACES_FOR_SERVICE = """
SELECT r.id, n.id, n.name, n.visibility, n."global", tu.role
FROM registries r
LEFT JOIN namespaces n
  ON n.registry_id = r.id
 AND ((n.name = ANY($2::varchar[]) AND NOT n."global") OR ($3 AND n."global"))
LEFT JOIN team_users tu ON tu.team_id = n.team_id AND tu.user_id = $4
WHERE r.hostname = $1 OR r.external_hostname = $1
"""

# A token login and the scope lookup of the same request in one round trip.
_PG_TOKEN_AND_NAMESPACES = """
SELECT o.*, r.id, n.id, n.name, n.visibility, n."global", tu.role
FROM (
  SELECT t.token_digest, t.created_at, u.id AS user_id, u.username, u.admin, u.bot, u.enabled,
         u.namespace_id, u.password_changed_at, t.id AS token_id, {service} AS service
  FROM {table} t JOIN users u ON u.id = t.user_id
  WHERE t.lookup = $1
) o
LEFT JOIN registries r ON r.hostname = $2 OR r.external_hostname = $2
LEFT JOIN namespaces n
  ON n.registry_id = r.id
 AND ((n.name = ANY($3::varchar[]) AND NOT n."global") OR ($4 AND n."global"))
LEFT JOIN team_users tu ON tu.team_id = n.team_id AND tu.user_id = o.user_id
"""  # noqa: S105
_PG_TOKEN_AND_NAMESPACES_BY_KIND = {
    "application": _PG_TOKEN_AND_NAMESPACES.format(table="application_tokens", service="NULL"),
    "refresh": _PG_TOKEN_AND_NAMESPACES.format(table="refresh_tokens", service="t.service"),
}


def _owner(row: Any, service: str | None = None) -> TokenOwner:
    return TokenOwner(
        token_digest=row[0],
        token_created_at=row[1],
        user_id=row[2],
        username=row[3],
        admin=row[4],
        bot=row[5],
        enabled=row[6],
        namespace_id=row[7],
        password_changed_at=row[8],
        token_id=row[9],
        service=service,
    )


def _namespace_rows(records: Any, first: int) -> list[NamespaceRow]:
    """The namespace columns of rows, from column `first` on (rows that joined no namespace
    are skipped)."""
    return [
        NamespaceRow(
            id=r[first],
            name=r[first + 1],
            visibility=Visibility(r[first + 2]),
            global_=r[first + 3],
            role=None if r[first + 4] is None else Role(r[first + 4]),
        )
        for r in records
        if r[first] is not None
    ]


class AsyncpgQueries:
    """Hand-written SQL sent straight to an asyncpg connection (PostgreSQL), prepared once per
    connection and then reused: SQLAlchemy's statement building and result processing cost more
    than these queries."""

    def __init__(self, pg: Any) -> None:
        self.pg = pg

    async def token_owner(self, kind: TokenKind, lookup: str) -> tuple[TokenOwner, Any] | None:
        found = await self.pg.fetchrow(_PG_TOKEN_OWNER_BY_KIND[kind], lookup)
        if found is None:
            return None
        return _owner(found, found[10] if kind == "refresh" else None), found[10]

    async def namespaces_for_service(
        self, *, service: str, names: Sequence[str], include_global: bool, user_id: int | None
    ) -> tuple[bool, list[NamespaceRow]]:
        records = await self.pg.fetch(
            _PG_NAMESPACES_FOR_SERVICE, service, list(names), include_global, user_id
        )
        return bool(records), _namespace_rows(records, 1)

    async def token_owner_and_namespaces(
        self,
        kind: Literal["application", "refresh"],
        lookup: str,
        *,
        service: str,
        names: Sequence[str],
        include_global: bool,
    ) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
        """One round trip."""
        records = await self.pg.fetch(
            _PG_TOKEN_AND_NAMESPACES_BY_KIND[kind], lookup, service, list(names), include_global
        )
        if not records:
            return None, False, []
        first = records[0]
        return _owner(first, service=first[10]), first[11] is not None, _namespace_rows(records, 12)


_TOKEN_MODELS: dict[TokenKind, tuple[Any, Any]] = {
    "application": (ApplicationToken, ApplicationToken.id),
    "refresh": (RefreshToken, RefreshToken.service),
    "session": (WebSession, WebSession.expires_at),
}


class CoreQueries:
    """The same queries through SQLAlchemy Core (the embedded SQLite, and any SQLAlchemy
    connection)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def token_owner(self, kind: TokenKind, lookup: str) -> tuple[TokenOwner, Any] | None:
        model, extra = _TOKEN_MODELS[kind]
        statement = (
            select(model.token_digest, model.created_at, *_USER_COLUMNS, model.id, extra)
            .join(User, User.id == model.user_id)
            .where(model.lookup == lookup)
        )
        found = (await self.conn.execute(statement)).first()
        if found is None:
            return None
        return _owner(found, found[10] if kind == "refresh" else None), found[10]

    async def namespaces_for_service(
        self, *, service: str, names: Sequence[str], include_global: bool, user_id: int | None
    ) -> tuple[bool, list[NamespaceRow]]:
        wanted: ColumnElement[bool] = (
            and_(Namespace.name.in_(names), Namespace.global_.is_(False)) if names else false()
        )
        if include_global:
            wanted = or_(wanted, Namespace.global_)
        statement = (
            select(
                Registry.id,
                Namespace.id,
                Namespace.name,
                Namespace.visibility,
                Namespace.global_,
                TeamUser.role,
            )
            .select_from(Registry)
            .outerjoin(Namespace, and_(Namespace.registry_id == Registry.id, wanted))
            .outerjoin(
                TeamUser, and_(TeamUser.team_id == Namespace.team_id, TeamUser.user_id == user_id)
            )
            .where(or_(Registry.hostname == service, Registry.external_hostname == service))
        )
        rows = (await self.conn.execute(statement)).all()
        return bool(rows), _namespace_rows(rows, 1)

    async def token_owner_and_namespaces(
        self,
        kind: Literal["application", "refresh"],
        lookup: str,
        *,
        service: str,
        names: Sequence[str],
        include_global: bool,
    ) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
        """One statement, built once (`_CORE_TOKEN_AND_NAMESPACES`)."""
        params = {
            "lookup": lookup,
            "service": service,
            "names": list(names),
            "include_global": include_global,
        }
        rows = (await self.conn.execute(_CORE_TOKEN_AND_NAMESPACES[kind], params)).all()
        if not rows:
            return None, False, []
        first = rows[0]
        return _owner(first, service=first[10]), first[11] is not None, _namespace_rows(rows, 12)


def _core_token_and_namespaces(model: Any, service: Any) -> Any:
    """`_PG_TOKEN_AND_NAMESPACES` in SQLAlchemy Core, its values bound at execution (building
    it per request cost the embedded database's token path more than running it)."""
    owner = (
        select(
            model.token_digest,
            model.created_at,
            User.id.label("user_id"),
            User.username,
            User.admin,
            User.bot,
            User.enabled,
            User.namespace_id,
            User.password_changed_at,
            model.id.label("token_id"),
            service.label("service"),
        )
        .join(User, User.id == model.user_id)
        .where(model.lookup == bindparam("lookup"))
        .subquery("o")
    )
    wanted = or_(
        and_(Namespace.name.in_(bindparam("names", expanding=True)), Namespace.global_.is_(False)),
        and_(bindparam("include_global"), Namespace.global_),
    )
    service_name: BindParameter[str] = bindparam("service", type_=String())
    return (
        select(
            owner,
            Registry.id,
            Namespace.id,
            Namespace.name,
            Namespace.visibility,
            Namespace.global_,
            TeamUser.role,
        )
        .select_from(owner)
        .outerjoin(
            Registry,
            or_(Registry.hostname == service_name, Registry.external_hostname == service_name),
        )
        .outerjoin(Namespace, and_(Namespace.registry_id == Registry.id, wanted))
        .outerjoin(
            TeamUser,
            and_(TeamUser.team_id == Namespace.team_id, TeamUser.user_id == owner.c.user_id),
        )
    )


_CORE_TOKEN_AND_NAMESPACES = {
    "application": _core_token_and_namespaces(ApplicationToken, null()),
    "refresh": _core_token_and_namespaces(RefreshToken, RefreshToken.service),
}


# Built once: a statement costs more to build than the ORM takes to run it from its cache.
_ORM_TOKEN_OWNER = {
    kind: select(User, model.token_digest, model.created_at, model.id, extra)
    .join(User, User.id == model.user_id)
    .where(model.lookup == bindparam("lookup"))
    for kind, (model, extra) in _TOKEN_MODELS.items()
}


class SessionQueries:
    """The token owners through a request's ORM session (a GET's, which has no transaction):
    the user is loaded as an entity, so that the request finds it again in the session's
    identity map, without a query. The other queries go to the session's connection."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def token_owner(self, kind: TokenKind, lookup: str) -> tuple[TokenOwner, Any] | None:
        found = (await self.session.execute(_ORM_TOKEN_OWNER[kind], {"lookup": lookup})).first()
        if found is None:
            return None
        user, digest, created_at, token_id, extra_value = found
        # The identity map holds its objects weakly: the session keeps this one for the request.
        self.session.info["token_owner"] = user
        owner = TokenOwner(
            token_digest=digest,
            user_id=user.id,
            username=user.username,
            admin=user.admin,
            bot=user.bot,
            enabled=user.enabled,
            namespace_id=user.namespace_id,
            password_changed_at=user.password_changed_at,
            token_created_at=created_at,
            token_id=token_id,
            service=extra_value if kind == "refresh" else None,
        )
        return owner, extra_value

    async def namespaces_for_service(
        self, *, service: str, names: Sequence[str], include_global: bool, user_id: int | None
    ) -> tuple[bool, list[NamespaceRow]]:
        return await (await queries(await self.session.connection())).namespaces_for_service(
            service=service, names=names, include_global=include_global, user_id=user_id
        )

    async def token_owner_and_namespaces(
        self,
        kind: Literal["application", "refresh"],
        lookup: str,
        *,
        service: str,
        names: Sequence[str],
        include_global: bool,
    ) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
        return await _owner_then_namespaces(
            self, kind, lookup, service=service, names=names, include_global=include_global
        )


async def _owner_then_namespaces(
    queries: TokenQueries,
    kind: Literal["application", "refresh"],
    lookup: str,
    *,
    service: str,
    names: Sequence[str],
    include_global: bool,
) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
    """The token's owner, then the namespaces with the owner's roles (where one round trip
    cannot do both)."""
    found = await queries.token_owner(kind, lookup)
    if found is None:
        return None, False, []
    owner = found[0]
    known, rows = await queries.namespaces_for_service(
        service=service, names=names, include_global=include_global, user_id=owner.user_id
    )
    return owner, known, rows


async def queries(conn: ReadConn | AsyncSession) -> TokenQueries:
    """The hot path's queries for this connection: an asyncpg connection (the hot-path pool),
    a SQLAlchemy one (on PostgreSQL, its asyncpg connection is used), or a request's session."""
    if isinstance(conn, AsyncSession):
        return SessionQueries(conn)
    if not isinstance(conn, AsyncConnection):
        return AsyncpgQueries(conn)
    if not queue.is_postgresql(conn):
        return CoreQueries(conn)
    raw = await conn.get_raw_connection()
    return AsyncpgQueries(raw.driver_connection)


async def application_token_owner(conn: ReadConn | AsyncSession, lookup: str) -> TokenOwner | None:
    found = await (await queries(conn)).token_owner("application", lookup)
    return None if found is None else found[0]


async def session_owner(
    conn: ReadConn | AsyncSession, lookup: str
) -> tuple[TokenOwner, datetime] | None:
    """A browser session's digest and expiry, with its user."""
    return await (await queries(conn)).token_owner("session", lookup)


async def namespaces_for_service(
    conn: ReadConn,
    *,
    service: str,
    names: Sequence[str],
    include_global: bool,
    user_id: int | None,
) -> tuple[bool, list[NamespaceRow]]:
    return await (await queries(conn)).namespaces_for_service(
        service=service, names=names, include_global=include_global, user_id=user_id
    )


async def token_owner_and_namespaces(
    conn: ReadConn,
    kind: Literal["application", "refresh"],
    lookup: str,
    *,
    service: str,
    names: Sequence[str],
    include_global: bool,
) -> tuple[TokenOwner | None, bool, list[NamespaceRow]]:
    """The owner of an application or refresh token, and `namespaces_for_service` with the
    owner's roles: one round trip on PostgreSQL, two queries elsewhere."""
    return await (await queries(conn)).token_owner_and_namespaces(
        kind, lookup, service=service, names=names, include_global=include_global
    )


async def user_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


@dataclass(frozen=True)
class PasswordAccount:
    """What a password login needs to know of the account, read before argon2 runs (no
    transaction and no connection is held during the check)."""

    user_id: int
    username: str
    encrypted_password: str | None
    admin: bool
    bot: bool
    enabled: bool
    namespace_id: int | None
    failed_attempts: int
    locked_at: datetime | None


async def password_account(conn: AsyncConnection, username: str) -> PasswordAccount | None:
    row = (
        await conn.execute(
            select(
                User.id,
                User.username,
                User.encrypted_password,
                User.admin,
                User.bot,
                User.enabled,
                User.namespace_id,
                User.failed_attempts,
                User.locked_at,
            ).where(User.username == username)
        )
    ).first()
    return None if row is None else PasswordAccount(*row)


async def unchanged_since_read(session: AsyncSession, account: PasswordAccount) -> bool:
    """The account still has the password hash and the enabled flag it was read with: neither a
    password change nor a disable happened while its password was being checked (argon2 runs
    with no row held)."""
    row = (
        await session.execute(
            select(User.encrypted_password, User.enabled).where(User.id == account.user_id)
        )
    ).first()
    return (
        row is not None
        and row.enabled == account.enabled
        and row.encrypted_password == account.encrypted_password
    )


async def count_login_failure(
    session: AsyncSession,
    model: type[LoginFailure] | type[AccountLoginFailure],
    key: dict[str, str],
    *,
    now: datetime,
    window: int,
) -> tuple[int, datetime]:
    """One more in the key's window (a new window if the last one ended); the new count and
    the window's start, in one statement (INSERT ... ON CONFLICT DO UPDATE ... RETURNING)."""
    expired = model.window_started_at <= now - timedelta(seconds=window)
    statement = (
        queue.upsert(
            session,
            model,
            conflict=[getattr(model, column) for column in key],
            set_={
                "failures": case((expired, 1), else_=model.failures + 1),
                "window_started_at": case((expired, now), else_=model.window_started_at),
            },
        )
        .values(**key, window_started_at=now, failures=1)
        .returning(model.failures, model.window_started_at)
    )
    row = (await session.execute(statement)).one()
    return int(row[0]), row[1]


async def account_failures_from(
    session: AsyncSession, username: str, client: str
) -> Row[int, datetime, datetime | None] | None:
    """(failures, window_started_at, succeeded_at) of the account name from the address."""
    return (
        await session.execute(
            select(
                AccountLoginFailure.failures,
                AccountLoginFailure.window_started_at,
                AccountLoginFailure.succeeded_at,
            ).where(AccountLoginFailure.username == username, AccountLoginFailure.client == client)
        )
    ).first()


async def claim_account_turn(
    session: AsyncSession, user_id: int, failed_attempts: int, *, now: datetime, delay: timedelta
) -> bool:
    """Whether this check took the account's turn: one conditional UPDATE, so of parallel
    claimants exactly one gets it (the count unchanged and the delay passed)."""
    result = await session.execute(
        update(User)
        .where(
            User.id == user_id,
            User.failed_attempts == failed_attempts,
            User.locked_at <= now - delay,
        )
        .values(locked_at=now)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def count_account_failure(
    session: AsyncSession, user_id: int, *, now: datetime, window: int
) -> None:
    """One more wrong password on the account (a count whose last failure is older than the
    window starts over), and `locked_at` becomes this failure's time."""
    stale = and_(User.locked_at.is_not(None), User.locked_at <= now - timedelta(seconds=window))
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_attempts=case((stale, 1), else_=User.failed_attempts + 1), locked_at=now)
    )


async def clear_account_failures(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(User)
        .where(User.id == user_id, or_(User.failed_attempts != 0, User.locked_at.is_not(None)))
        .values(failed_attempts=0, locked_at=None)
    )


async def mark_known_address(
    session: AsyncSession, username: str, client: str, *, now: datetime
) -> None:
    """The account's right password from the address: its count there starts over, and the
    address is known to the account from now on."""
    known = {"failures": 0, "window_started_at": now, "succeeded_at": now}
    await session.execute(
        queue.upsert(
            session,
            AccountLoginFailure,
            conflict=[AccountLoginFailure.username, AccountLoginFailure.client],
            set_=known,
        ).values(username=username, client=client, **known)
    )


async def give_back_login_attempt(session: AsyncSession, client: str) -> None:
    await session.execute(
        update(LoginFailure)
        .where(LoginFailure.client == client, LoginFailure.failures > 0)
        .values(failures=LoginFailure.failures - 1)
    )


async def forget_login_failures(
    session: AsyncSession, *, ended_before: datetime, known_since: datetime
) -> int:
    """Deletes the counts whose window ended before `ended_before` (an address's count for an
    account only once the address is no longer known to it); how many."""
    ended = {
        LoginFailure: LoginFailure.window_started_at <= ended_before,
        AccountLoginFailure: and_(
            AccountLoginFailure.window_started_at <= ended_before,
            or_(
                AccountLoginFailure.succeeded_at.is_(None),
                AccountLoginFailure.succeeded_at <= known_since,
            ),
        ),
    }
    forgotten = 0
    for model, condition in ended.items():
        result = await session.execute(delete(model).where(condition))
        forgotten += int(getattr(result, "rowcount", 0) or 0)
    return forgotten


# Application tokens imported from Portus (ApplicationToken.legacy_hash).


async def imported_token_owner(conn: AsyncConnection, digest: str) -> TokenOwner | None:
    """The imported token whose plain form, used before, has this digest, with its user."""
    row = (
        await conn.execute(
            select(
                ApplicationToken.token_digest,
                ApplicationToken.created_at,
                *_USER_COLUMNS,
                ApplicationToken.id,
            )
            .join(User, User.id == ApplicationToken.user_id)
            .where(
                ApplicationToken.token_digest == digest, ApplicationToken.legacy_hash.is_not(None)
            )
        )
    ).first()
    return None if row is None else _owner(row)


async def unused_imported_tokens(conn: AsyncConnection, user_id: int) -> list[tuple[int, str]]:
    """(id, bcrypt hash) of the user's imported tokens that no login has used yet (Portus kept
    at most 5 a user)."""
    rows = await conn.execute(
        select(ApplicationToken.id, ApplicationToken.legacy_hash)
        .where(
            ApplicationToken.user_id == user_id,
            ApplicationToken.legacy_hash.is_not(None),
            ApplicationToken.token_digest == "",
        )
        .order_by(ApplicationToken.id)
    )
    return [(row.id, str(row.legacy_hash)) for row in rows]


async def record_imported_token_digest(session: AsyncSession, token_id: int, digest: str) -> None:
    """The first login with an imported token: from now on it is found by its digest."""
    await session.execute(
        update(ApplicationToken)
        .where(ApplicationToken.id == token_id, ApplicationToken.token_digest == "")
        .values(token_digest=digest)
    )


async def replace_legacy_password_hash(
    session: AsyncSession, user_id: int, legacy_hash: str, new_hash: str
) -> None:
    """A Portus bcrypt password, just matched, becomes an argon2id hash (unless it changed
    meanwhile). Not a password change: `password_changed_at` stays, and so do the sessions."""
    await session.execute(
        update(User)
        .where(User.id == user_id, User.encrypted_password == legacy_hash)
        .values(encrypted_password=new_hash)
    )
