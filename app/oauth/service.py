"""Signing in with a provider (Portus's `oauth.*`), in three steps:

1. `begin`: a row keeps the state, the nonce, the PKCE verifier and a digest of a random cookie
   set in this browser; the browser goes to the provider.
2. `complete` (the provider sends the browser back): the state's row is deleted as it is read
   (a state works once), the cookie must match (the sign-in started in this browser), then, with
   no transaction open, the code is exchanged and the ID token checked. The account is the one
   with this provider and subject (`users.provider`/`uid`), never one found by e-mail. A first
   sign-in creates it, unless the provider's username cannot be ours (taken, invalid): then the
   identity waits for the person to choose one (`choose_username`).
3. A browser session opens, as with a password.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import session_scope, utcnow
from app.core.directory import Directory
from app.core.errors import Invalid, NotFound, ServiceUnavailable
from app.core.security import TokenDigester, parse_token
from app.models import OAuthLogin, OAuthSignup, Role, User
from app.oauth import repository
from app.oauth.providers import OpenIdConnect, enabled_providers
from app.oauth.types import Identity, Provider, ProviderFailed
from app.sessions.service import open_session
from app.teams import service as teams
from app.users import service as users

LOGIN_LIFETIME = timedelta(minutes=10)
SIGNUP_LIFETIME = timedelta(minutes=30)
SIGNUP_MARKER = "oas"
_NOT_USERNAME = re.compile(r"[^A-Za-z0-9._-]+")

__all__ = ["ProviderFailed"]


def provider_named(settings: Settings, name: str) -> Provider:
    provider = enabled_providers(settings).get(name)
    if provider is None:
        raise NotFound(f"no sign-in provider {name!r} is enabled")
    return provider


def callback_url(settings: Settings, provider: str) -> str:
    return f"{settings.public_url.rstrip('/')}/api/v1/oauth/{provider}/callback"


def safe_return_to(value: str | None) -> str:
    """A page of this site to go back to (never another site: `//host`, `/\\host`; never
    the API, whose start would begin the sign-in again)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/api/")) or "\\" in value:
        return "/"
    return value[:1024]


async def begin(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    digester: TokenDigester,
    oidc: OpenIdConnect,
    provider_name: str,
    return_to: str | None,
    browser_secret: str,
) -> str:
    """The provider's authorization URL; the sign-in is recorded for `complete`."""
    provider = provider_named(settings, provider_name)
    started = await oidc.start(provider, callback_url(settings, provider.name))
    async with session_scope(sessionmaker) as session:
        session.add(
            OAuthLogin(
                state=started.state,
                browser_digest=digester.digest(browser_secret),
                provider=provider.name,
                nonce=started.nonce,
                code_verifier=started.code_verifier,
                return_to=safe_return_to(return_to),
                expires_at=utcnow() + LOGIN_LIFETIME,
            )
        )
    return started.url


@dataclass(frozen=True)
class SignedIn:
    session_token: str
    return_to: str


@dataclass(frozen=True)
class UsernameWanted:
    signup_token: str
    return_to: str


async def complete(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    digester: TokenDigester,
    directory: Directory | None,
    oidc: OpenIdConnect,
    provider_name: str,
    code: str,
    state: str,
    browser_secret: str | None,
) -> SignedIn | UsernameWanted:
    """Raises ProviderFailed with a message for the person (or NotFound)."""
    provider = provider_named(settings, provider_name)
    async with session_scope(sessionmaker) as session:
        login = await repository.claim_login(session, state)
    if (
        login is None
        or login.provider != provider.name
        or browser_secret is None
        or not digester.matches(browser_secret, login.browser_digest)
    ):
        raise ProviderFailed("this sign-in was not started here, or was used already: try again")
    if login.expires_at < utcnow():
        raise ProviderFailed("this sign-in took too long: try again")
    identity = bounded(
        await oidc.finish(
            provider, callback_url(settings, provider.name), code, login.nonce, login.code_verifier
        )
    )
    async with session_scope(sessionmaker) as session:
        return await _account_for(session, digester, directory, provider, identity, login.return_to)


def bounded(identity: Identity) -> Identity:
    """What a provider says, as far as it fits: a subject too long to store is refused; an
    address this service would not take is not kept; a name is cut."""
    if not identity.uid or len(identity.uid) > 255:
        raise ProviderFailed("the sign-in provider's subject is empty or too long (over 255)")
    email = identity.email
    if email is not None and (len(email) > 255 or not users.EMAIL_PATTERN.fullmatch(email)):
        email = None
    return replace(
        identity,
        email=email,
        name=identity.name[:255] if identity.name else None,
        username=identity.username[:255] if identity.username else None,
    )


def _suggestion(identity: Identity) -> str:
    base = identity.username or (identity.email or "").split("@", 1)[0] or "user"
    cleaned = _NOT_USERNAME.sub("-", base).strip("-._")[:200]
    return cleaned if cleaned and cleaned[0].isalnum() else f"user-{cleaned}".rstrip("-")


async def _usable_email(session: AsyncSession, identity: Identity) -> str | None:
    """The provider's address, unless another account has it (accounts are never joined by
    e-mail: the person may set another one on the profile page)."""
    if identity.email is None or await users.email_taken(session, identity.email):
        return None
    return identity.email


async def _account_for(
    session: AsyncSession,
    digester: TokenDigester,
    directory: Directory | None,
    provider: Provider,
    identity: Identity,
    return_to: str,
) -> SignedIn | UsernameWanted:
    user = await repository.user_by_identity(session, identity.provider, identity.uid)
    if user is None:
        suggestion = _suggestion(identity)
        try:
            await _refuse_directory_name(directory, suggestion)
            user = await create_account(session, identity, suggestion)
        except Invalid:
            return await _wait_for_username(session, digester, identity, suggestion, return_to)
    _refuse_disabled(user)
    await _join_teams(session, provider, user, identity.groups)
    return SignedIn(await open_session(session, digester, user.id), return_to)


async def _join_teams(
    session: AsyncSession, provider: Provider, user: User, groups: Sequence[str]
) -> None:
    if provider.groups_claim and groups:
        await teams.join_teams_of_groups(
            session, user, groups, Role[provider.groups_role], provider.name
        )


def _refuse_disabled(user: User) -> None:
    if not user.enabled:
        raise ProviderFailed("this account has been disabled")


async def _refuse_directory_name(directory: Directory | None, username: str) -> None:
    """A directory user's name is taken (Invalid), even before they first log in: else their
    LDAP login would land in this account."""
    try:
        await users.refuse_directory_name(directory, username)
    except ServiceUnavailable as exc:
        raise ProviderFailed(exc.message) from exc


async def create_account(session: AsyncSession, identity: Identity, username: str) -> User:
    """The account; Invalid when the username is taken, also by a first sign-in of someone
    else running at the same moment (the unique index decides)."""
    try:
        return await _insert_account(session, identity, username)
    except IntegrityError as exc:
        # The same identity signing in twice at once: the other request made the account.
        existing = await repository.user_by_identity(session, identity.provider, identity.uid)
        if existing is not None:
            return existing
        raise Invalid({"username": ["has already been taken"]}) from exc


async def _insert_account(session: AsyncSession, identity: Identity, username: str) -> User:
    async with session.begin_nested():
        return await users.create_user(
            session,
            users.NewUser(
                username=username,
                email=await _usable_email(session, identity),
                password=None,
                display_name=None,
                provider=identity.provider,
                uid=identity.uid,
            ),
            actor_id=None,
        )


async def _wait_for_username(
    session: AsyncSession,
    digester: TokenDigester,
    identity: Identity,
    suggestion: str,
    return_to: str,
) -> UsernameWanted:
    issued = digester.issue(SIGNUP_MARKER)
    session.add(
        OAuthSignup(
            lookup=issued.lookup,
            token_digest=issued.digest,
            provider=identity.provider,
            uid=identity.uid,
            email=identity.email,
            display_name=identity.name,
            suggested_username=suggestion,
            return_to=return_to,
            groups="\n".join(identity.groups),
            expires_at=utcnow() + SIGNUP_LIFETIME,
        )
    )
    await session.flush()
    return UsernameWanted(issued.plain, return_to)


async def forget_expired(session: AsyncSession) -> int:
    """Sign-ins abandoned at the provider, and first sign-ins that chose no username."""
    return await repository.forget_expired(session, utcnow())


async def pending_signup(session: AsyncSession, digester: TokenDigester, token: str) -> OAuthSignup:
    lookup = parse_token(token, SIGNUP_MARKER)
    signup = await repository.signup_by_lookup(session, lookup) if lookup else None
    if (
        signup is None
        or not digester.matches(token, signup.token_digest)
        or signup.expires_at < utcnow()
    ):
        raise NotFound("This sign-up has ended: sign in with the provider again")
    return signup


async def choose_username(
    session: AsyncSession,
    settings: Settings,
    digester: TokenDigester,
    directory: Directory | None,
    token: str,
    username: str,
) -> tuple[User, str, str]:
    """The account of a waiting first sign-in, under the chosen username; the user, a new
    browser session and where to go. Invalid (422) when the username cannot be had."""
    signup = await pending_signup(session, digester, token)
    provider = enabled_providers(settings).get(signup.provider)
    if provider is None:
        raise NotFound(f"signing in with {signup.provider} is no longer offered here")
    identity = Identity(
        provider=signup.provider,
        uid=signup.uid,
        username=username,
        email=signup.email,
        name=signup.display_name,
        groups=tuple(filter(None, signup.groups.split("\n"))),
    )
    user = await repository.user_by_identity(session, identity.provider, identity.uid)
    if user is None:
        await users.refuse_directory_name(directory, username)
        user = await create_account(session, identity, username)
    _refuse_disabled(user)
    await _join_teams(session, provider, user, identity.groups)
    await session.delete(signup)
    return user, await open_session(session, digester, user.id), signup.return_to
