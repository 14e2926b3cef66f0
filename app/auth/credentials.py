"""Turning credentials (password, application token, refresh token) into a Principal."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from dataclasses import replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import repository, throttle
from app.authz.principal import Principal, PrincipalKind
from app.core.db import ReadConn, read_scope, session_scope, utcnow
from app.core.directory import (
    Directory,
    DirectoryUnavailable,
    DirectoryUser,
    InvalidCredentials,
)
from app.core.errors import Invalid
from app.core.security import (
    APP_TOKEN_MARKER,
    REFRESH_TOKEN_MARKER,
    SESSION_MARKER,
    PasswordChecksBusy,
    TokenDigester,
    hash_password,
    is_legacy_hash,
    parse_token,
)
from app.core.state import AppState
from app.models import User

logger = logging.getLogger(__name__)

MAX_USERNAME_LENGTH = 255
MAX_PASSWORD_LENGTH = 1024
BAD_CREDENTIALS = "invalid username or password"


class AuthenticationFailed(Exception):
    """Refused credentials. `guess` (the default): a wrong secret, counted against the client's
    address by login_rate_limit; a directory that cannot be asked is no guess of the client's.
    `counted`: the password path has already counted it (callers must not count it again)."""

    def __init__(
        self, message: str = BAD_CREDENTIALS, *, guess: bool = True, counted: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.guess = guess
        self.counted = counted


def principal_for(
    user: User | repository.TokenOwner, application_token_id: int | None = None
) -> Principal:
    return Principal(
        kind=PrincipalKind.user,
        user_id=user.user_id if isinstance(user, repository.TokenOwner) else user.id,
        username=user.username,
        admin=user.admin,
        bot=user.bot,
        personal_namespace_id=user.namespace_id,
        application_token_id=application_token_id,
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


def is_application_token(secret: str) -> bool:
    return parse_token(secret, APP_TOKEN_MARKER) is not None


async def login_with_application_token(
    conn: ReadConn | AsyncSession, digester: TokenDigester, username: str | None, plain: str
) -> Principal:
    """One indexed query and a constant-time digest comparison; no slow hash. `conn`: a read
    connection, or a GET request's own session (then the user is in its identity map)."""
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
    return principal_for(owner, owner.token_id)


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


def _refuse_matched(account: repository.PasswordAccount | User) -> None:
    """The password is right: precise reasons reveal nothing to its holder."""
    if not account.enabled:
        raise AuthenticationFailed("this account has been disabled", counted=True)
    if account.bot:
        raise AuthenticationFailed(
            "bots log in with an application token, not a password", counted=True
        )


def _principal_of(account: repository.PasswordAccount) -> Principal:
    return Principal(
        kind=PrincipalKind.user,
        user_id=account.user_id,
        username=account.username,
        admin=account.admin,
        bot=account.bot,
        personal_namespace_id=account.namespace_id,
    )


async def _read_account(state: AppState, username: str) -> repository.PasswordAccount | None:
    async with read_scope(state.sessionmaker.kw["bind"]) as conn:
        return await repository.password_account(conn, username)


async def _wrong_password(
    state: AppState, client: str, username: str, account: repository.PasswordAccount | None
) -> AuthenticationFailed:
    """Counted for (account, address) and on the account (the address's count was taken before
    the check)."""
    async with session_scope(state.sessionmaker) as session:
        await throttle.record_wrong_password(
            session,
            state.settings.login_rate_limit,
            client,
            username,
            account.user_id if account is not None else None,
        )
    return AuthenticationFailed(counted=True)


async def _right_password(
    state: AppState,
    client: str,
    username: str,
    account: repository.PasswordAccount,
    password: str,
) -> None:
    """Recorded, unless the password changed or the account was disabled during the check: a
    login with the old password must not outlive the change (its session would be newer than
    `password_changed_at`). That attempt stays counted. A password imported from Portus
    (bcrypt) is rehashed with argon2id now that its plain form is at hand."""
    legacy = account.encrypted_password if is_legacy_hash(account.encrypted_password) else None
    rehashed = await hash_password(password) if legacy is not None else None
    async with session_scope(state.sessionmaker) as session:
        if not await repository.unchanged_since_read(session, account):
            raise AuthenticationFailed(counted=True)
        await throttle.record_right_password(
            session, state.settings.login_rate_limit, client, username, account.user_id
        )
        if legacy is not None and rehashed is not None:
            await repository.replace_legacy_password_hash(
                session, account.user_id, legacy, rehashed
            )


async def _not_a_guess(state: AppState, client: str) -> None:
    """The attempt proved nothing either way (the directory could not be asked)."""
    async with session_scope(state.sessionmaker) as session:
        await throttle.give_back(session, state.settings.login_rate_limit, client)


async def login_with_password(
    state: AppState,
    client: str,
    username: str,
    password: str,
    *,
    local_only: bool = False,
) -> Principal:
    """A password login, throttled as `app.auth.throttle` describes, in short transactions:
    the attempt is counted first, the account read on an autocommit connection, argon2 (or the
    LDAP bind) runs with no transaction and no connection held, then the outcome is written.

    With LDAP on (and not `local_only`), a password that is not the account's
    local one is checked against the directory (see `_login_with_directory`). Raises
    AuthenticationFailed (`counted`), throttle.TooManyFailures or PasswordChecksBusy.
    """
    if len(username) > MAX_USERNAME_LENGTH or len(password) > MAX_PASSWORD_LENGTH:
        raise AuthenticationFailed()  # not ours, and not worth an argon2 run
    imported = await login_with_imported_token(state, username, password)
    if imported is not None:
        return imported
    directory = None if local_only else state.ldap
    limit = state.settings.login_rate_limit
    if directory is None:
        # A check that would be refused for want of capacity is refused before anything else:
        # it costs no write, and is no attempt to count against the client.
        state.passwords.refuse_if_full()
    known = await throttle.claim_attempt(state.sessionmaker, limit, client, username)
    try:
        return await _check_password(state, client, directory, username, password, known=known)
    except PasswordChecksBusy:
        await _not_a_guess(state, client)  # filled up meanwhile: not tried, not counted
        raise


async def _check_password(
    state: AppState,
    client: str,
    directory: Directory | None,
    username: str,
    password: str,
    *,
    known: bool,
) -> Principal:
    """`known`: the client's address is a known one of the account, which the account's delay
    does not hold back (a stranger guessing elsewhere cannot keep the owner out)."""
    limit = state.settings.login_rate_limit
    account = await _read_account(state, username)
    if account is not None and not known:
        await throttle.claim_account_turn(
            state.sessionmaker,
            limit,
            throttle.AccountState(account.user_id, account.failed_attempts, account.locked_at),
        )
    if directory is not None:
        return await _login_with_directory(state, client, directory, account, username, password)
    matched = await state.passwords.verify(
        account.encrypted_password if account is not None else None, password
    )
    if account is not None and not matched:
        imported = await _first_use_of_imported_token(state, client, account, password)
        if imported is not None:
            return imported
    if account is None or not matched:
        raise await _wrong_password(state, client, username, account)
    await _right_password(state, client, username, account, password)
    _refuse_matched(account)
    return _principal_of(account)


async def login_with_imported_token(
    state: AppState, username: str | None, password: str
) -> Principal | None:
    """A Portus application token used before (see ApplicationToken.legacy_hash): found by its
    digest with one indexed query, as fast as our own tokens. None: it is not one."""
    async with read_scope(state.sessionmaker.kw["bind"]) as conn:
        owner = await repository.imported_token_owner(conn, state.digester.digest(password))
    if owner is None:
        return None
    return check_application_token(owner, state.digester, username, password)


async def _first_use_of_imported_token(
    state: AppState, client: str, account: repository.PasswordAccount, password: str
) -> Principal | None:
    """The password is not the account's: it may be one of its Portus application tokens not
    used since the import. Portus checked each with bcrypt; so does this (at most 5), once: a
    match records the token's digest for `login_with_imported_token`."""
    async with read_scope(state.sessionmaker.kw["bind"]) as conn:
        candidates = await repository.unused_imported_tokens(conn, account.user_id)
    for token_id, legacy_hash in candidates:
        if not await state.passwords.verify(legacy_hash, password):
            continue
        async with session_scope(state.sessionmaker) as session:
            await repository.record_imported_token_digest(
                session, token_id, state.digester.digest(password)
            )
            await throttle.record_right_password(
                session, state.settings.login_rate_limit, client, account.username, account.user_id
            )
        if not account.enabled:
            raise AuthenticationFailed("this account has been disabled", counted=True)
        return replace(_principal_of(account), application_token_id=token_id)
    return None


async def _login_with_directory(
    state: AppState,
    client: str,
    directory: Directory,
    account: repository.PasswordAccount | None,
    username: str,
    password: str,
) -> Principal:
    """1. An account with a local password (the bootstrap admin, users from before LDAP) and
    every bot is checked locally first, so they keep working while the directory is down; bots
    never go to the directory. 2. Otherwise the directory is asked, outside any transaction
    (it may take up to `ldap.timeout`). 3. The outcome is recorded: a failure counted on the
    local account, or the account created or updated (`state.directory_accounts`)."""
    local_mismatch = False
    if account is not None and (account.bot or account.encrypted_password is not None):
        if await state.passwords.verify(account.encrypted_password, password):
            await _right_password(state, client, username, account, password)
            _refuse_matched(account)
            return _principal_of(account)
        if account.bot:
            imported = await _first_use_of_imported_token(state, client, account, password)
            if imported is not None:
                return imported
            raise await _wrong_password(state, client, username, account)
        local_mismatch = True

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
            raise await _wrong_password(state, client, username, account)
        await _not_a_guess(state, client)
        raise AuthenticationFailed(
            f"the LDAP directory cannot be used: {unavailable.message}", guess=False, counted=True
        )
    if found is None:
        if account is not None:
            imported = await _first_use_of_imported_token(state, client, account, password)
            if imported is not None:
                return imported
        raise await _wrong_password(state, client, username, account)
    for attempt in (1, 2):
        try:
            return await _directory_user_logs_in(state, client, username, directory, found)
        except IntegrityError:
            # Two first logins of the same user at once: the other one created the account.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _directory_user_logs_in(
    state: AppState, client: str, username: str, directory: Directory, found: DirectoryUser
) -> Principal:
    async with session_scope(state.sessionmaker) as session:
        try:
            user_id = await state.directory_accounts.provision(
                session, found, first_user_admin=directory.first_user_admin
            )
        except Invalid as exc:
            message = f"the directory user {found.username!r} cannot have a Portus account"
            raise AuthenticationFailed(f"{message}: {exc.message}", counted=True) from exc
        user = await session.get(User, user_id)  # in the identity map: no query
        assert user is not None
        await throttle.record_right_password(
            session, state.settings.login_rate_limit, client, username, user.id
        )
    _refuse_matched(user)
    return principal_for(user)


SESSION_COOKIE = "portus_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def login_with_session(
    conn: ReadConn | AsyncSession,
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
