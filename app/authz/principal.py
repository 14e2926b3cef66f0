"""Who is asking: a user (or bot), nobody (anonymous), or the service itself."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    anonymous = "anonymous"
    user = "user"
    # The service acting on the registry (catalog, manifests, deletes). Never a row in `users`.
    internal = "internal"


INTERNAL_USERNAME = "portus"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    user_id: int | None = None
    username: str = ""
    admin: bool = False
    bot: bool = False
    personal_namespace_id: int | None = None
    # Set when the caller authenticated with an application token: what it derives (refresh
    # tokens) dies with it.
    application_token_id: int | None = None

    @property
    def authenticated(self) -> bool:
        return self.kind is not PrincipalKind.anonymous

    @property
    def superuser(self) -> bool:
        return self.admin or self.kind is PrincipalKind.internal


ANONYMOUS = Principal(kind=PrincipalKind.anonymous)
INTERNAL = Principal(kind=PrincipalKind.internal, username=INTERNAL_USERNAME, admin=True)
