"""Turning credentials (password, application token, refresh token) into a Principal."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository
from app.authz.principal import Principal, PrincipalKind
from app.core.db import utcnow
from app.core.security import (
    APP_TOKEN_MARKER,
    REFRESH_TOKEN_MARKER,
    TokenDigester,
    parse_token,
    verify_password,
)
from app.models import RefreshToken, User

MAX_FAILED_ATTEMPTS = 10
LOCK_DURATION = timedelta(minutes=10)
BAD_CREDENTIALS = "invalid username or password"


class AuthenticationFailed(Exception):
    def __init__(self, message: str = BAD_CREDENTIALS) -> None:
        super().__init__(message)
        self.message = message


def principal_for(user: User) -> Principal:
    return Principal(
        kind=PrincipalKind.user,
        user_id=user.id,
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
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationFailed("malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep or not username:
        raise AuthenticationFailed("malformed Basic credentials")
    return username, password


def _ensure_usable(user: User) -> None:
    if not user.enabled:
        raise AuthenticationFailed("this account has been disabled")


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_at is not None and now - user.locked_at < LOCK_DURATION


async def login_with_application_token(
    session: AsyncSession, digester: TokenDigester, username: str | None, plain: str
) -> Principal | None:
    """None when `plain` is not shaped like an application token; raises when it is but fails."""
    lookup = parse_token(plain, APP_TOKEN_MARKER)
    if lookup is None:
        return None
    found = await repository.application_token_with_user(session, lookup)
    if found is None:
        raise AuthenticationFailed()
    token, user = found
    if not digester.matches(plain, token.token_digest):
        raise AuthenticationFailed()
    if username is not None and username != user.username:
        raise AuthenticationFailed()
    _ensure_usable(user)
    return principal_for(user)


async def login_with_password(session: AsyncSession, username: str, password: str) -> Principal:
    """Local password login with Portus's lockout: 10 failures lock the account for 10 minutes.

    Failed attempts are counted in the caller's transaction, which must be committed even though
    the login fails (the endpoints answer the failure without raising through the session).
    """
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
    _ensure_usable(user)
    if user.bot:
        raise AuthenticationFailed("bots log in with an application token, not a password")
    if user.failed_attempts:
        user.failed_attempts = 0
    return principal_for(user)


async def login(
    session: AsyncSession, digester: TokenDigester, username: str, secret: str
) -> Principal:
    """Basic credentials: an application token when it is shaped like one, else the password."""
    principal = await login_with_application_token(session, digester, username, secret)
    if principal is not None:
        return principal
    return await login_with_password(session, username, secret)


async def login_with_refresh_token(
    session: AsyncSession, digester: TokenDigester, plain: str, service: str
) -> tuple[Principal, RefreshToken]:
    lookup = parse_token(plain, REFRESH_TOKEN_MARKER)
    if lookup is None:
        raise AuthenticationFailed("invalid refresh token")
    found = await repository.refresh_token_with_user(session, lookup)
    if found is None:
        raise AuthenticationFailed("invalid refresh token")
    token, user = found
    if not digester.matches(plain, token.token_digest):
        raise AuthenticationFailed("invalid refresh token")
    if token.service != service:
        raise AuthenticationFailed("this refresh token was issued for another service")
    if token.created_at < user.password_changed_at:
        raise AuthenticationFailed("refresh token revoked: the password has changed since")
    _ensure_usable(user)
    return principal_for(user), token
