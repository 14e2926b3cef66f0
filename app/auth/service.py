"""The registry token service: authorise each requested scope and sign a JWT for the registry."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.auth.scope import Scope
from app.authz import policy
from app.authz.principal import Principal
from app.core.config import Settings
from app.core.db import ReadConn
from app.core.keys import SigningKey
from app.core.security import REFRESH_TOKEN_MARKER, TokenDigester
from app.models import RefreshToken

_NOT_BEFORE_SKEW = 5  # seconds; Portus's value, covers clocks a little behind ours


@dataclass(frozen=True)
class GrantedScope:
    type: str
    name: str
    actions: list[str]

    def claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": self.actions}

    def as_text(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class IssuedRegistryToken:
    token: str
    expires_in: int
    issued_at: datetime
    access: list[GrantedScope]

    def body(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "access_token": self.token,
            "expires_in": self.expires_in,
            "issued_at": self.issued_at.isoformat().replace("+00:00", "Z"),
        }


@dataclass(frozen=True)
class NamespaceQuery:
    """Which namespaces the requested scopes name: looked up in one query."""

    names: list[str]
    include_global: bool


def namespace_query(scopes: Sequence[Scope]) -> NamespaceQuery:
    repository_scopes = [s for s in scopes if s.type == "repository"]
    return NamespaceQuery(
        names=sorted({s.namespace_name for s in repository_scopes if s.namespace_name}),
        include_global=any(s.namespace_name is None for s in repository_scopes),
    )


def grant(
    settings: Settings,
    principal: Principal,
    scopes: Sequence[Scope],
    known_service: bool,
    rows: Sequence[repository.NamespaceRow],
) -> list[GrantedScope]:
    """The intersection of what was asked and what policy allows, from the looked-up facts."""
    if not known_service:
        # Not a registry we know: nothing is granted (a mis-typed `service` in the registry config).
        return [GrantedScope(s.type, s.name, []) for s in scopes]
    facts: dict[str | None, policy.NamespaceFacts] = {}
    for row in rows:
        key = None if row.global_ else row.name
        facts[key] = policy.NamespaceFacts(
            id=row.id, visibility=row.visibility, global_=row.global_, role=row.role
        )
    granted = []
    for scope in scopes:
        if scope.type == "repository":
            ns = facts.get(scope.namespace_name, policy.UNKNOWN_NAMESPACE)
            actions = policy.repository_actions(principal, ns, set(scope.actions), settings)
        elif scope.type == "registry" and scope.name == "catalog":
            actions = policy.catalog_actions(principal, set(scope.actions))
        else:
            actions = []
        granted.append(GrantedScope(scope.type, scope.name, actions))
    return granted


async def authorize(
    conn: ReadConn,
    settings: Settings,
    principal: Principal,
    service: str,
    scopes: Sequence[Scope],
) -> list[GrantedScope]:
    """Look the named namespaces up (one query) and grant what policy allows."""
    if not scopes:
        return []
    query = namespace_query(scopes)
    known, rows = await repository.namespaces_for_service(
        conn,
        service=service,
        names=query.names,
        include_global=query.include_global,
        user_id=principal.user_id,
    )
    return grant(settings, principal, scopes, known, rows)


def sign(
    settings: Settings,
    key: SigningKey,
    *,
    subject: str,
    audience: str,
    access: list[GrantedScope],
) -> IssuedRegistryToken:
    now = datetime.now(UTC).replace(microsecond=0)
    issued = int(now.timestamp())
    lifetime = settings.jwt_expiration_seconds
    claims = {
        "iss": settings.machine_fqdn.value,
        "sub": subject,
        "aud": audience,  # a string: distribution 2.8 refuses a list
        "iat": issued,
        "nbf": issued - _NOT_BEFORE_SKEW,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(24),
        "access": [scope.claim() for scope in access],
    }
    return IssuedRegistryToken(
        token=key.sign(claims), expires_in=lifetime, issued_at=now, access=access
    )


async def create_refresh_token(
    session: AsyncSession,
    digester: TokenDigester,
    principal: Principal,
    *,
    service: str,
    client_id: str | None,
) -> str:
    assert principal.user_id is not None
    issued = digester.issue(REFRESH_TOKEN_MARKER)
    session.add(
        RefreshToken(
            user_id=principal.user_id,
            lookup=issued.lookup,
            token_digest=issued.digest,
            service=service,
            client_id=(client_id or "")[:255] or None,
            application_token_id=principal.application_token_id,
        )
    )
    await session.flush()
    return issued.plain
