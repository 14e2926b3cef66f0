"""The token hot path's queries are written twice: hand-written SQL on asyncpg (PostgreSQL) and
SQLAlchemy Core (SQLite), and the token owners a third time through the ORM (a GET's session).
On PostgreSQL all run on the test's connection and must give the same rows; on either database,
what they give must be what the data says."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.repository import (
    AsyncpgQueries,
    CoreQueries,
    NamespaceRow,
    SessionQueries,
    TokenOwner,
    TokenQueries,
)
from app.core.db import utcnow
from app.core.security import REFRESH_TOKEN_MARKER, SESSION_MARKER, TokenDigester
from app.models import (
    ApplicationToken,
    Namespace,
    RefreshToken,
    Role,
    User,
    Visibility,
    WebSession,
)
from tests.fixtures import factories
from tests.fixtures.database import backend
from tests.fixtures.factories import REGISTRY_HOST

EXTERNAL_HOST = "registry.example.org"
NAMES = ["alice", "team", "foreign", "missing"]


@pytest.fixture
async def implementations(
    connection: AsyncConnection, session: AsyncSession
) -> AsyncIterator[list[TokenQueries]]:
    """Core, and on PostgreSQL the asyncpg SQL; and the ORM session of a GET request's
    authentication (its token owners; it hands the rest to one of the others)."""
    found: list[TokenQueries] = [CoreQueries(connection)]
    if connection.dialect.name == "postgresql":
        raw = await connection.get_raw_connection()
        found.append(AsyncpgQueries(raw.driver_connection))
    # After `session` (its savepoint comes first, so it must be unwound last).
    async with AsyncSession(bind=connection) as reader:
        found.append(SessionQueries(reader))
        yield found


@dataclass
class Scenario:
    """Alice has an application token, a refresh token and a browser session. The registry
    (with an external host name too) holds her personal namespace, a team namespace where she
    contributes, one of bob's where she is nobody, and its global namespace; another registry
    has a namespace named like the team's, which alice owns."""

    alice: User
    app_token: ApplicationToken
    refresh_token: RefreshToken
    web_session: WebSession
    personal: Namespace
    team: Namespace
    foreign: Namespace
    global_: Namespace

    def owner(
        self, digest: str, created_at: datetime, token_id: int, service: str | None = None
    ) -> TokenOwner:
        return TokenOwner(
            token_digest=digest,
            user_id=self.alice.id,
            username="alice",
            admin=False,
            bot=False,
            enabled=True,
            namespace_id=self.personal.id,
            password_changed_at=self.alice.password_changed_at,
            token_created_at=created_at,
            token_id=token_id,
            service=service,
        )

    def rows(self, *, roles: bool, include_global: bool = True) -> list[NamespaceRow]:
        """The namespaces NAMES name in the registry, with alice's roles when `roles`."""
        found = [
            NamespaceRow(
                self.personal.id, "alice", Visibility.private, False, Role.owner if roles else None
            ),
            NamespaceRow(
                self.team.id,
                "team",
                Visibility.protected,
                False,
                Role.contributor if roles else None,
            ),
            NamespaceRow(self.foreign.id, "foreign", Visibility.private, False, None),
        ]
        if include_global:
            found.append(
                NamespaceRow(self.global_.id, self.global_.name, Visibility.public, True, None)
            )
        return sorted(found, key=lambda row: row.id)


@pytest.fixture
async def scenario(session: AsyncSession, digester: TokenDigester) -> Scenario:
    registry = await factories.create_registry(session)
    registry.external_hostname = EXTERNAL_HOST
    other = await factories.create_registry(session, hostname="other:5000")
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    team = await factories.create_namespace(
        session,
        registry,
        name="team",
        visibility=Visibility.protected,
        members={alice.id: Role.contributor, bob.id: Role.owner},
    )
    foreign = await factories.create_namespace(
        session, registry, name="foreign", members={bob.id: Role.owner}
    )
    await factories.create_namespace(session, other, name="team", members={alice.id: Role.owner})
    await factories.create_token(session, digester, alice)
    refresh, cookie = digester.issue(REFRESH_TOKEN_MARKER), digester.issue(SESSION_MARKER)
    refresh_token = RefreshToken(
        user_id=alice.id,
        lookup=refresh.lookup,
        token_digest=refresh.digest,
        service=REGISTRY_HOST,
        client_id="docker",
    )
    web_session = WebSession(
        user_id=alice.id,
        lookup=cookie.lookup,
        token_digest=cookie.digest,
        expires_at=utcnow() + timedelta(hours=1),
    )
    session.add_all([refresh_token, web_session])
    await session.flush()
    app_token = await session.scalar(
        select(ApplicationToken).where(ApplicationToken.user_id == alice.id)
    )
    personal = await session.get(Namespace, alice.namespace_id)
    global_ = await session.scalar(
        select(Namespace).where(Namespace.registry_id == registry.id, Namespace.global_)
    )
    assert app_token is not None
    assert personal is not None
    assert global_ is not None
    return Scenario(alice, app_token, refresh_token, web_session, personal, team, foreign, global_)


def _in_id_order(result: Any) -> Any:
    """Namespace rows in id order: the statements have no ORDER BY (no caller needs one)."""
    if isinstance(result, tuple) and result and isinstance(result[-1], list):
        return (*result[:-1], sorted(result[-1], key=lambda row: row.id))
    return result


async def same_everywhere(
    implementations: list[TokenQueries], call: Callable[[TokenQueries], Awaitable[Any]]
) -> Any:
    results = [_in_id_order(await call(queries)) for queries in implementations]
    for other in results[1:]:
        assert other == results[0]
    return results[0]


def test_both_are_checked_on_postgresql(implementations: list[TokenQueries]) -> None:
    assert len(implementations) == (3 if backend() == "postgresql" else 2)


class TestTokenOwner:
    async def test_application_token(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.app_token
        found = await same_everywhere(
            implementations, lambda q: q.token_owner("application", token.lookup)
        )
        assert found == (scenario.owner(token.token_digest, token.created_at, token.id), token.id)

    async def test_refresh_token_with_its_service(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.refresh_token
        found = await same_everywhere(
            implementations, lambda q: q.token_owner("refresh", token.lookup)
        )
        owner = scenario.owner(token.token_digest, token.created_at, token.id, REGISTRY_HOST)
        assert found == (owner, REGISTRY_HOST)

    async def test_browser_session_with_its_expiry(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        web = scenario.web_session
        found = await same_everywhere(
            implementations, lambda q: q.token_owner("session", web.lookup)
        )
        assert found == (scenario.owner(web.token_digest, web.created_at, web.id), web.expires_at)

    @pytest.mark.parametrize("kind", ["application", "refresh", "session"])
    async def test_unknown_lookup(
        self, implementations: list[TokenQueries], scenario: Scenario, kind: Any
    ) -> None:
        # Another kind's lookup is unknown too: each kind has its own table.
        lookup = scenario.web_session.lookup if kind != "session" else scenario.app_token.lookup
        assert await same_everywhere(implementations, lambda q: q.token_owner(kind, lookup)) is None


class TestNamespacesForService:
    @pytest.mark.parametrize("service", [REGISTRY_HOST, EXTERNAL_HOST])
    async def test_named_and_global_with_roles(
        self, implementations: list[TokenQueries], scenario: Scenario, service: str
    ) -> None:
        found = await same_everywhere(
            implementations,
            lambda q: q.namespaces_for_service(
                service=service, names=NAMES, include_global=True, user_id=scenario.alice.id
            ),
        )
        assert found == (True, scenario.rows(roles=True))

    async def test_anonymous_has_no_roles(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        found = await same_everywhere(
            implementations,
            lambda q: q.namespaces_for_service(
                service=REGISTRY_HOST, names=NAMES, include_global=False, user_id=None
            ),
        )
        assert found == (True, scenario.rows(roles=False, include_global=False))

    async def test_nothing_named(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        found = await same_everywhere(
            implementations,
            lambda q: q.namespaces_for_service(
                service=REGISTRY_HOST, names=[], include_global=False, user_id=scenario.alice.id
            ),
        )
        assert found == (True, [])

    async def test_unknown_service(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        found = await same_everywhere(
            implementations,
            lambda q: q.namespaces_for_service(
                service="nowhere:5000", names=NAMES, include_global=True, user_id=scenario.alice.id
            ),
        )
        assert found == (False, [])


class TestTokenOwnerAndNamespaces:
    async def test_application_token(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.app_token
        found = await same_everywhere(
            implementations,
            lambda q: q.token_owner_and_namespaces(
                "application", token.lookup, service=REGISTRY_HOST, names=NAMES, include_global=True
            ),
        )
        owner = scenario.owner(token.token_digest, token.created_at, token.id)
        assert found == (owner, True, scenario.rows(roles=True))

    async def test_refresh_token(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.refresh_token
        found = await same_everywhere(
            implementations,
            lambda q: q.token_owner_and_namespaces(
                "refresh", token.lookup, service=EXTERNAL_HOST, names=NAMES, include_global=False
            ),
        )
        owner = scenario.owner(token.token_digest, token.created_at, token.id, REGISTRY_HOST)
        assert found == (owner, True, scenario.rows(roles=True, include_global=False))

    async def test_nothing_named_but_the_global_namespace(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.app_token
        found = await same_everywhere(
            implementations,
            lambda q: q.token_owner_and_namespaces(
                "application", token.lookup, service=REGISTRY_HOST, names=[], include_global=True
            ),
        )
        owner = scenario.owner(token.token_digest, token.created_at, token.id)
        global_ = scenario.global_
        assert found == (
            owner,
            True,
            [NamespaceRow(global_.id, global_.name, Visibility.public, True, None)],
        )

    async def test_unknown_service(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        token = scenario.app_token
        found = await same_everywhere(
            implementations,
            lambda q: q.token_owner_and_namespaces(
                "application", token.lookup, service="nowhere", names=NAMES, include_global=True
            ),
        )
        owner = scenario.owner(token.token_digest, token.created_at, token.id)
        assert found == (owner, False, [])

    async def test_unknown_token(
        self, implementations: list[TokenQueries], scenario: Scenario
    ) -> None:
        found = await same_everywhere(
            implementations,
            lambda q: q.token_owner_and_namespaces(
                "application",
                scenario.refresh_token.lookup,
                service=REGISTRY_HOST,
                names=NAMES,
                include_global=True,
            ),
        )
        assert found == (None, False, [])
