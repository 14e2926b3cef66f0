"""Turning credentials (password, application token, refresh token) into a Principal."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.auth import repository
from app.authz.principal import Principal, PrincipalKind
from app.core.db import session_scope, utcnow
from app.core.security import (
    APP_TOKEN_MARKER,
    REFRESH_TOKEN_MARKER,
    SESSION_MARKER,
    TokenDigester,
    parse_token,
    verify_password,
)
from app.models import User

MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 1024
MAX_FAILED_ATTEMPTS = 10
LOCK_DURATION = timedelta(minutes=10)
BAD_CREDENTIALS = "invalid username or password"


class AuthenticationFailed(Exception):
    def __init__(self, message: str = BAD_CREDENTIALS) -> None:
        super().__init__(message)
        self.message = message


def principal_for(user: User | repository.TokenOwner) -> Principal:
    return Principal(
        kind=PrincipalKind.user,
        user_id=user.user_id if isinstance(user, repository.TokenOwner) else user.id,
        username=user.username,
        admin=user.admin,
        bot=user.bot,
        personal_namespace_id=user.namespace_id,
    )


def parse_basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise AuthenticationFailed("only HTTP Basic credentials are accepted here")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise AuthenticationFailed("malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep or not username or "\x00" in decoded:
        raise AuthenticationFailed("malformed Basic credentials")
    return username, password


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_at is not None and now - user.locked_at < LOCK_DURATION


def is_application_token(secret: str) -> bool:
    return parse_token(secret, APP_TOKEN_MARKER) is not None


async def login_with_application_token(
    conn: AsyncConnection, digester: TokenDigester, username: str | None, plain: str
) -> Principal:
    """One indexed query and a constant-time digest comparison; no slow hash."""
    lookup = application_token_lookup(plain)
    owner = await repository.application_token_owner(conn, lookup)
    return check_application_token(owner, digester, username, plain)


def application_token_lookup(plain: str) -> str:
    lookup = parse_token(plain, APP_TOKEN_MARKER)
    if lookup is None:
        raise AuthenticationFailed()
    return lookup


def check_application_token(
    owner: repository.TokenOwner | None, digester: TokenDigester, username: str | None, plain: str
) -> Principal:
    """The stored digest matches (in constant time), the user name too, the user is enabled."""
    if owner is None or not digester.matches(plain, owner.token_digest):
        raise AuthenticationFailed()
    if username is not None and username != owner.username:
        raise AuthenticationFailed()
    if not owner.enabled:
        raise AuthenticationFailed("this account has been disabled")
    return dataclasses.replace(principal_for(owner), application_token_id=owner.token_id)


def refresh_token_lookup(plain: str) -> str:
    lookup = parse_token(plain, REFRESH_TOKEN_MARKER)
    if lookup is None:
        raise AuthenticationFailed("invalid refresh token")
    return lookup


def check_refresh_token(
    owner: repository.TokenOwner | None, digester: TokenDigester, plain: str, service: str
) -> Principal:
    """Digest (constant time), service, not older than the last password change, enabled."""
    if owner is None or not digester.matches(plain, owner.token_digest):
        raise AuthenticationFailed("invalid refresh token")
    if owner.service != service:
        raise AuthenticationFailed("this refresh token was issued for another service")
    if owner.token_created_at < owner.password_changed_at:
        raise AuthenticationFailed("refresh token revoked: the password has changed since")
    if not owner.enabled:
        raise AuthenticationFailed("this account has been disabled")
    return principal_for(owner)


async def _check_password(session: AsyncSession, username: str, password: str) -> Principal:
    user = await repository.user_by_username(session, username)
    stored = user.encrypted_password if user is not None else None
    matched = await verify_password(stored, password)
    if user is None:
        raise AuthenticationFailed()
    now = utcnow()
    if user.locked_at is not None and not is_locked(user, now):
        user.locked_at = None
        user.failed_attempts = 0
    if not matched:
        if not is_locked(user, now):
            user.failed_attempts += 1
            if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
                user.locked_at = now
        raise AuthenticationFailed()
    # From here on the caller knows the password, so precise reasons reveal nothing.
    if is_locked(user, now):
        raise AuthenticationFailed("too many failed logins: this account is locked for 10 minutes")
    if not user.enabled:
        raise AuthenticationFailed("this account has been disabled")
    if user.bot:
        raise AuthenticationFailed("bots log in with an application token, not a password")
    if user.failed_attempts:
        user.failed_attempts = 0
    return principal_for(user)


async def login_with_password(
    sessionmaker: async_sessionmaker[AsyncSession], username: str, password: str
) -> Principal:
    """Local password login with Portus's lockout: 10 failures lock the account for 10 minutes.

    Its own transaction, committed whether the login succeeds or not: a failure is counted.
    """
    if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise AuthenticationFailed()  # not ours, and not worth an argon2 run
    failure: AuthenticationFailed | None = None
    async with session_scope(sessionmaker) as session:
        try:
            principal = await _check_password(session, username, password)
        except AuthenticationFailed as exc:
            failure = exc
    if failure is not None:
        raise failure
    return principal


SESSION_COOKIE = "portus_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def login_with_session(
    conn: AsyncConnection,
    digester: TokenDigester,
    cookie: str,
    *,
    method: str,
    csrf_header: str | None,
) -> Principal:
    """The SPA's cookie. Changes (unsafe methods) also need `X-CSRF-Token`: a cross-site page
    can make the browser send the cookie, but cannot know the token."""
    lookup = parse_token(cookie, SESSION_MARKER)
    if lookup is None:
        raise AuthenticationFailed("invalid session")
    found = await repository.session_owner(conn, lookup)
    if found is None:
        raise AuthenticationFailed("invalid session")
    owner, expires_at = found
    if not digester.matches(cookie, owner.token_digest):
        raise AuthenticationFailed("invalid session")
    if expires_at <= utcnow() or owner.token_created_at < owner.password_changed_at:
        raise AuthenticationFailed("the session has ended: log in again")
    if not owner.enabled:
        raise AuthenticationFailed("this account has been disabled")
    if method in UNSAFE_METHODS and not hmac.compare_digest(
        csrf_header or "", digester.csrf_token(cookie)
    ):
        raise CsrfFailed()
    return principal_for(owner)


class CsrfFailed(Exception):
    """A cookie-authenticated change without the session's CSRF token."""
