"""Turning credentials (password, application token, refresh token) into a Principal."""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hmac
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from app.auth import repository
from app.authz.principal import Principal, PrincipalKind
from app.core.db import session_scope, utcnow
from app.core.errors import Invalid
from app.core.security import (
    APP_TOKEN_MARKER,
    REFRESH_TOKEN_MARKER,
    SESSION_MARKER,
    TokenDigester,
    parse_token,
    verify_password,
)
from app.ldap import service as ldap_accounts
from app.ldap.directory import (
    Directory,
    DirectoryUnavailable,
    DirectoryUser,
    InvalidCredentials,
)
from app.models import User

logger = logging.getLogger(__name__)

MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 1024
MAX_FAILED_ATTEMPTS = 10
LOCK_DURATION = timedelta(minutes=10)
BAD_CREDENTIALS = "invalid username or password"


class AuthenticationFailed(Exception):
    """Refused credentials. `guess` (the default): counted against the client's address by
    login_rate_limit; a directory that cannot be asked is no guess of the client's."""

    def __init__(self, message: str = BAD_CREDENTIALS, *, guess: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.guess = guess


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


def _settle(user: User, matched: bool) -> Principal:
    """Portus's lockout around one password check of `user` (the row is locked by the caller)."""
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


async def _check_password(session: AsyncSession, username: str, password: str) -> Principal:
    user = await repository.user_by_username(session, username)
    stored = user.encrypted_password if user is not None else None
    matched = await verify_password(stored, password)
    if user is None:
        raise AuthenticationFailed()
    return _settle(user, matched)


async def login_with_password(
    sessionmaker: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    directory: Directory | None = None,
) -> Principal:
    """Password login with Portus's lockout: 10 failures lock the account for 10 minutes.

    With a `directory` (LDAP on), a password that is not the account's local one is checked
    against the directory (see `_login_with_directory`). Every transaction here is its own,
    committed whether the login succeeds or not: a failure is counted.
    """
    if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise AuthenticationFailed()  # not ours, and not worth an argon2 run
    if directory is not None:
        return await _login_with_directory(sessionmaker, directory, username, password)
    failure: AuthenticationFailed | None = None
    async with session_scope(sessionmaker) as session:
        try:
            principal = await _check_password(session, username, password)
        except AuthenticationFailed as exc:
            failure = exc
    if failure is not None:
        raise failure
    return principal


async def _login_with_directory(
    sessionmaker: async_sessionmaker[AsyncSession],
    directory: Directory,
    username: str,
    password: str,
) -> Principal:
    """1. An account with a local password (the bootstrap admin, users from before LDAP) and
    every bot is checked locally first, so they keep working while the directory is down; bots
    never go to the directory. 2. Otherwise the directory is asked, outside any transaction
    (it may take up to `ldap.timeout`). 3. The outcome is recorded: a failure counted on the
    local account, or the account created or updated (`app.ldap.service.provision`)."""
    failure: AuthenticationFailed | None = None
    local_mismatch = False
    async with session_scope(sessionmaker) as session:
        user = await repository.user_by_username(session, username)
        if user is not None and (user.bot or user.encrypted_password is not None):
            matched = await verify_password(user.encrypted_password, password)
            if matched or user.bot:
                try:
                    return _settle(user, matched)
                except AuthenticationFailed as exc:
                    failure = exc
            local_mismatch = True
    if failure is not None:
        raise failure

    found: DirectoryUser | None = None
    unavailable: DirectoryUnavailable | None = None
    try:
        found = await directory.authenticate(username, password)
    except InvalidCredentials:
        found = None
    except DirectoryUnavailable as exc:
        logger.warning("LDAP login of %r failed: %s", username, exc.message)
        unavailable = exc
    if unavailable is not None:
        if local_mismatch:  # the local password was wrong: that failure counts all the same
            await _record_failure(sessionmaker, username)
        raise AuthenticationFailed(
            f"the LDAP directory cannot be used: {unavailable.message}", guess=False
        )
    if found is None:
        await _record_failure(sessionmaker, username)
        raise AuthenticationFailed()
    for attempt in (1, 2):
        try:
            return await _directory_user_logs_in(sessionmaker, directory, found)
        except IntegrityError:
            # Two first logins of the same user at once: the other one created the account.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _record_failure(sessionmaker: async_sessionmaker[AsyncSession], username: str) -> None:
    """A wrong password: counted on the local account if there is one."""
    async with session_scope(sessionmaker) as session:
        user = await repository.user_by_username(session, username)
        if user is not None:
            with contextlib.suppress(AuthenticationFailed):
                _settle(user, False)


async def _directory_user_logs_in(
    sessionmaker: async_sessionmaker[AsyncSession], directory: Directory, found: DirectoryUser
) -> Principal:
    failure: AuthenticationFailed
    async with session_scope(sessionmaker) as session:
        try:
            user = await ldap_accounts.provision(
                session, found, first_user_admin=directory.first_user_admin
            )
        except Invalid as exc:
            raise AuthenticationFailed(
                f"the directory user {found.username!r} cannot have a Portus account: {exc.message}"
            ) from exc
        try:
            return _settle(user, True)
        except AuthenticationFailed as exc:
            failure = exc  # committed: e.g. an expired lock is cleared
    raise failure


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
