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
    """`admin`: may do what an administrator may, everywhere. For a user it is their `users.admin`
    flag; the internal identity always has it (it acts on the whole registry), so policy asks
    this one flag and never the kind."""

    kind: PrincipalKind
    user_id: int | None = None
    username: str = ""
    admin: bool = False
    bot: bool = False
    personal_namespace_id: int | None = None
    # Set when the caller authenticated with an application token: what it derives (refresh
    # tokens) dies with it.
    application_token_id: int | None = None

    def __post_init__(self) -> None:
        # Checked once here, so that policy may ask `admin` alone.
        if self.kind is PrincipalKind.internal and not self.admin:
            raise ValueError("the internal identity is an administrator (admin=True)")
        if self.kind is PrincipalKind.anonymous and self.admin:
            raise ValueError("an anonymous caller is never an administrator")

    @property
    def authenticated(self) -> bool:
        return self.kind is not PrincipalKind.anonymous


ANONYMOUS = Principal(kind=PrincipalKind.anonymous)
INTERNAL = Principal(kind=PrincipalKind.internal, username=INTERNAL_USERNAME, admin=True)
