"""Issuing a registry token: the use case behind `/v2/token`.

A `TokenRequest` is what the client asked, from the query of a GET (the registry's token.md) or
the form of a POST (oauth.md). `issue_token` authenticates the caller, looks up what the scopes
name, applies the policy (`app.authz.policy`) and signs. It reads on an autocommit connection:
an application or refresh token costs one round trip (who is calling and what the scopes name,
in one query on PostgreSQL); it writes only for password logins (the attempts) and new refresh
tokens. Its refusals are exceptions the endpoint maps to the registry's error format:
`TokenRequestError`, `credentials.AuthenticationFailed` (already counted against the client),
`throttle.TooManyFailures` and `PasswordChecksBusy`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from app.auth import credentials, repository, service, throttle
from app.auth.credentials import MAX_PASSWORD_LENGTH, MAX_USERNAME_LENGTH
from app.auth.errors import TokenRequestError
from app.auth.scope import Scope, parse_scopes
from app.authz.principal import ANONYMOUS, Principal
from app.core.db import session_scope
from app.core.state import AppState

# `service` and `client_id`: the columns they end up in (refresh_tokens).
MAX_FIELD_LENGTH = 255
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


def checked(name: str, value: str | None, max_length: int = MAX_FIELD_LENGTH) -> str | None:
    """Refuse values no client sends (control characters, absurd lengths) with a 400, before
    they reach the database, which would refuse them less politely."""
    if value is None:
        return None
    if len(value) > max_length:
        raise TokenRequestError(
            f"{name} is longer than {max_length} characters",
            status_code=400,
            code="INVALID_REQUEST",
        )
    if _CONTROL_CHARACTER.search(value) is not None:
        raise TokenRequestError(
            f"{name} contains control characters", status_code=400, code="INVALID_REQUEST"
        )
    return value


_GRANT_TYPES: dict[str, Literal["password", "refresh_token"]] = {
    "password": "password",
    "refresh_token": "refresh_token",
}


def _invalid(message: str, code: str = "INVALID_REQUEST") -> TokenRequestError:
    return TokenRequestError(message, status_code=400, code=code)


@dataclass(frozen=True)
class TokenRequest:
    """A token request, checked for shape (a 400 or, for a malformed scope, a 401 otherwise)
    but not authenticated yet."""

    service: str
    scopes: list[Scope]
    client: str  # the client's address: failed logins are counted against it
    # None: a GET, with HTTP Basic credentials (a password or an application token) in
    # `authorization`, or none (anonymous). Else the grant of a POST: `username` and
    # `password` (a password or an application token), or `refresh_token`.
    grant_type: Literal["password", "refresh_token"] | None = None
    authorization: str | None = None
    username: str = ""
    password: str = ""
    refresh_token: str = ""
    offline: bool = False  # a refresh token too (GET offline_token=true; access_type=offline)
    client_id: str | None = None
    # The account the client says it logs in as (GET); the credentials decide, as in Portus.
    account: str | None = None

    @classmethod
    def from_query(
        cls,
        params: Mapping[str, str],
        scopes: Iterable[str],
        authorization: str | None,
        client: str,
    ) -> TokenRequest:
        """A GET (token.md): `params` the query's first values, `scopes` every `scope`."""
        service_name = checked("service", params.get("service"))
        client_id = checked("client_id", params.get("client_id"))
        if not service_name:
            raise _invalid("the service parameter is required")
        return cls(
            service=service_name,
            scopes=parse_scopes(scopes),
            client=client,
            authorization=authorization,
            offline=(params.get("offline_token") or "").lower() == "true",
            client_id=client_id,
            account=params.get("account"),
        )

    @classmethod
    def from_form(cls, form: Sequence[tuple[str, str]], client: str) -> TokenRequest:
        """A POST (oauth.md): the urlencoded form, `scope` repeated or space-separated."""
        fields = dict(form)
        service_name = checked("service", fields.get("service"))
        client_id = checked("client_id", fields.get("client_id"))
        asked = fields.get("grant_type")
        if not service_name:
            raise _invalid("the service field is required")
        grant_type = _GRANT_TYPES.get(asked or "")
        if grant_type is None:
            raise _invalid(
                f"unsupported grant_type {asked!r}: use password or refresh_token", "UNSUPPORTED"
            )
        scopes = parse_scopes(value for key, value in form if key == "scope")
        username = fields.get("username", "")
        if grant_type == "password" and not username:
            raise _invalid("the username field is required")
        return cls(
            service=service_name,
            scopes=scopes,
            client=client,
            grant_type=grant_type,
            username=username,
            password=fields.get("password", ""),
            refresh_token=fields.get("refresh_token", ""),
            offline=grant_type == "password" and fields.get("access_type") == "offline",
            client_id=client_id,
        )


@dataclass(frozen=True)
class IssuedToken:
    registry_token: service.IssuedRegistryToken
    principal: Principal
    # A new one (offline access), or the one a refresh grant presented.
    refresh_token: str | None = None

    def body(self, *, oauth: bool) -> dict[str, Any]:
        """The answer: token.md's, and with `oauth` (a POST) oauth.md's granted scope."""
        body = self.registry_token.body()
        if oauth:
            body["scope"] = " ".join(
                scope.as_text() for scope in self.registry_token.access if scope.actions
            )
        if self.refresh_token:
            body["refresh_token"] = self.refresh_token
        return body


async def issue_token(state: AppState, request: TokenRequest) -> IssuedToken:
    """Authenticate, look up, apply the policy, sign; and a refresh token when asked for
    offline access. A refused guess not counted yet (a wrong token) counts against the
    client's address before the refusal goes on."""
    try:
        principal, access = await _authorize(state, request)
    except credentials.AuthenticationFailed as exc:
        if exc.guess and not exc.counted:
            await throttle.record_failure(
                state.sessionmaker, state.settings.login_rate_limit, request.client
            )
        raise
    issued = service.sign(
        state.settings,
        state.signing_key,
        subject=principal.username,
        audience=request.service,
        access=access,
    )
    refresh_token = request.refresh_token if request.grant_type == "refresh_token" else None
    if request.offline and principal.user_id is not None:
        # docker login: an identity token, so that docker stores it instead of the password.
        async with session_scope(state.sessionmaker) as session:
            refresh_token = await service.create_refresh_token(
                session,
                state.digester,
                principal,
                service=request.service,
                client_id=request.client_id,
            )
    return IssuedToken(issued, principal, refresh_token)


async def _authorize(
    state: AppState, request: TokenRequest
) -> tuple[Principal, list[service.GrantedScope]]:
    """Who is calling, and what they may do of what they asked."""
    if request.grant_type == "refresh_token":
        return await _token_login(state, request, "refresh", request.refresh_token, None)
    username, secret = _credentials_of(request)
    if secret is not None and credentials.is_application_token(secret):
        return await _token_login(state, request, "application", secret, username)
    principal = ANONYMOUS
    if username is not None and secret is not None:
        # Before the read connection is taken: argon2 takes a while.
        principal = await _password_login(state, request.client, username, secret)
    async with state.read_connection() as conn:
        access = await service.authorize(
            conn, state.settings, principal, request.service, request.scopes
        )
    return principal, access


def _credentials_of(request: TokenRequest) -> tuple[str | None, str | None]:
    """(username, password or application token), or (None, None) for an anonymous GET."""
    if request.grant_type == "password":
        return request.username, request.password
    if request.authorization:
        return credentials.parse_basic(request.authorization)
    return None, None


async def _token_login(
    state: AppState,
    request: TokenRequest,
    kind: Literal["application", "refresh"],
    secret: str,
    username: str | None,
) -> tuple[Principal, list[service.GrantedScope]]:
    """An application or refresh token: its owner and what the scopes name in one query (CI's
    hot path), then the checks (digest first) and the grant."""
    if kind == "application":
        lookup = credentials.application_token_lookup(secret)
    else:
        lookup = credentials.refresh_token_lookup(secret)
    query = service.namespace_query(request.scopes)
    async with state.read_connection() as conn:
        owner, known, rows = await repository.token_owner_and_namespaces(
            conn,
            kind,
            lookup,
            service=request.service,
            names=query.names,
            include_global=query.include_global,
        )
    if kind == "application":
        principal = credentials.check_application_token(owner, state.digester, username, secret)
    else:
        principal = credentials.check_refresh_token(owner, state.digester, secret, request.service)
    return principal, service.grant(state.settings, principal, request.scopes, known, rows)


async def _password_login(state: AppState, client: str, username: str, secret: str) -> Principal:
    """Counted and throttled (`app.auth.throttle`); no read connection held meanwhile."""
    checked("username", username, MAX_USERNAME_LENGTH)
    checked("password", secret, MAX_PASSWORD_LENGTH)
    return await credentials.login_with_password(state, client, username, secret)


async def authenticate_basic(state: AppState, authorization: str | None, client: str) -> Principal:
    """`GET /v2/` (Portus's ping): who HTTP Basic credentials name, checked as `/v2/token`
    checks them (an application token, or a password: counted and throttled). No credentials
    are a refusal here: the ping answers whether a login works."""
    if not authorization:
        raise credentials.AuthenticationFailed("authentication required", guess=False)
    username, secret = credentials.parse_basic(authorization)
    if not credentials.is_application_token(secret):
        return await _password_login(state, client, username, secret)
    try:
        async with state.read_connection() as conn:
            return await credentials.login_with_application_token(
                conn, state.digester, username, secret
            )
    except credentials.AuthenticationFailed as exc:
        if exc.guess and not exc.counted:
            await throttle.record_failure(
                state.sessionmaker, state.settings.login_rate_limit, client
            )
        raise
