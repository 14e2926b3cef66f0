"""Users, bots, application tokens and the first administrator's bootstrap."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz import policy
from app.authz.principal import INTERNAL_USERNAME, Principal
from app.core.db import utcnow
from app.core.directory import Directory, DirectoryUnavailable
from app.core.errors import Forbidden, Invalid, NotFound, ServiceUnavailable
from app.core.params import MAX_ID
from app.core.security import APP_TOKEN_MARKER, TokenDigester, hash_password
from app.models import ApplicationToken, RefreshToken, SetupStep, User
from app.namespaces import service as namespaces
from app.teams import service as teams
from app.users import repository
from app.users.errors import BootstrapDone, TokenLimitReached

# Used with fullmatch: `$` would let a trailing newline through.
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
EMAIL_PATTERN = re.compile(r"[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+")
PASSWORD_MIN, PASSWORD_MAX = 8, 128
MAX_APPLICATION_TOKENS = 5


@dataclass(frozen=True)
class NewUser:
    username: str
    email: str | None
    password: str | None
    admin: bool = False
    bot: bool = False
    display_name: str | None = None
    # Created by a directory (LDAP) login: no local password, and the email is optional.
    directory: bool = False
    # Created by a sign-in with a provider (OpenID Connect, OAuth): its name and subject id;
    # no local password, the email optional, as for directory users.
    provider: str | None = None
    uid: str | None = None

    @property
    def external(self) -> bool:
        """Someone else (a directory, a provider) checks who this is: no password here."""
        return self.directory or self.provider is not None


async def _validate(session: AsyncSession, data: NewUser) -> None:
    errors: dict[str, list[str]] = {}
    if not USERNAME_PATTERN.fullmatch(data.username):
        errors.setdefault("username", []).append(
            "may contain letters, digits, '.', '_' and '-', and must start with a letter or digit"
        )
    elif data.username.lower() == INTERNAL_USERNAME:
        errors.setdefault("username", []).append(f"{INTERNAL_USERNAME!r} is reserved")
    elif not data.bot and not namespaces.is_valid_name(namespaces.normalize_name(data.username)):
        errors.setdefault("username", []).append("cannot be turned into a namespace name")
    elif await repository.username_taken(session, data.username):
        errors.setdefault("username", []).append("has already been taken")
    if data.email is None:
        if not data.external:
            errors.setdefault("email", []).append("is required")
    elif not EMAIL_PATTERN.fullmatch(data.email):
        errors.setdefault("email", []).append("is not a valid email address")
    elif await repository.email_taken(session, data.email):
        errors.setdefault("email", []).append("has already been taken")
    if not data.bot and not data.external:
        length = len(data.password or "")
        if not PASSWORD_MIN <= length <= PASSWORD_MAX:
            errors.setdefault("password", []).append(
                f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"
            )
    if errors:
        raise Invalid(errors)


async def create_user(session: AsyncSession, data: NewUser, *, actor_id: int | None) -> User:
    """A user (or bot). Non-bots get their personal namespace when a registry exists; admins join
    the owners of the registry's global team."""
    await _validate(session, data)
    user = User(
        username=data.username,
        email=data.email,
        # Bots log in with application tokens only: a password they were given is not kept.
        # Directory users log in with their directory password.
        encrypted_password=None
        if data.bot or data.external
        else await hash_password(data.password or ""),
        admin=data.admin,
        bot=data.bot,
        display_name=data.display_name,
        provider=data.provider,
        uid=data.uid,
    )
    session.add(user)
    await session.flush()
    registry = await namespaces.get_registry(session)
    if registry is not None:
        if not data.bot:
            await namespaces.create_personal_namespace(session, registry, user)
        if data.admin:
            global_ns = await namespaces.global_namespace(session, registry.id)
            if global_ns is not None:
                await teams.set_owner(session, global_ns.team_id, user.id)
    activities.record(
        session,
        "user.create",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=actor_id,
        parameters={
            "username": user.username,
            "bot": user.bot,
            "admin": user.admin,
            **({"ldap": True} if data.directory else {}),
            **({"provider": data.provider} if data.provider else {}),
        },
    )
    await session.flush()
    return user


async def bootstrap(
    session: AsyncSession, digester: TokenDigester, data: NewUser
) -> tuple[User, ApplicationToken, str]:
    """The first administrator and an application token named "bootstrap".

    Race-safe: the `setup_steps` primary key lets exactly one transaction record the step; a
    concurrent one fails on it and is answered like any later call.
    """
    if await repository.count(session) > 0:
        raise BootstrapDone()
    try:
        async with session.begin_nested():
            session.add(SetupStep(name="bootstrap"))
            await session.flush()
    except IntegrityError as exc:
        raise BootstrapDone() from exc
    user = await create_user(session, NewUser(**{**data.__dict__, "admin": True}), actor_id=None)
    token, plain = await create_application_token(
        session, digester, user, "bootstrap", actor_id=user.id
    )
    return user, token, plain


async def create_application_token(
    session: AsyncSession,
    digester: TokenDigester,
    user: User,
    application: str,
    *,
    actor_id: int | None,
) -> tuple[ApplicationToken, str]:
    # The user's row lock makes count-then-insert safe against concurrent creations.
    await repository.lock(session, user.id)
    if await repository.token_count(session, user.id) >= MAX_APPLICATION_TOKENS:
        raise TokenLimitReached()
    if any(t.application == application for t in await repository.tokens_of(session, user.id)):
        raise Invalid({"application": ["has already been taken"]})
    issued = digester.issue(APP_TOKEN_MARKER)
    token = ApplicationToken(
        user_id=user.id, application=application, lookup=issued.lookup, token_digest=issued.digest
    )
    session.add(token)
    await session.flush()
    activities.record(
        session,
        "application_token.create",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=actor_id,
        parameters={"application": application},
    )
    return token, issued.plain


async def issue_application_token(
    session: AsyncSession,
    digester: TokenDigester,
    principal: Principal,
    user_id: int,
    application: str,
) -> tuple[User, ApplicationToken, str]:
    """`POST /users/:id/application_tokens`: the user, the token and its plaintext. A stranger
    is refused (403) before being told whether the user exists (404)."""
    user = await repository.get(session, user_id)
    if user is None:
        ensure_self_or_admin(principal, user_id)
        raise NotFound("Not found: no such user")
    ensure_may_create_token_for(principal, user)
    token, plain = await create_application_token(
        session, digester, user, application, actor_id=principal.user_id
    )
    return user, token, plain


def ensure_may_create_token_for(principal: Principal, user: User) -> None:
    """`policy.can_create_token_for`, else 403."""
    if policy.can_create_token_for(principal, user.id):
        return
    raise Forbidden("Authorization fails: tokens are created by their owner or an administrator")


def ensure_self_or_admin(principal: Principal, user_id: int) -> None:
    """Application tokens are their owner's business (and an administrator's), nobody else's."""
    if not policy.can_manage_tokens_of(principal, user_id):
        raise Forbidden("Authorization fails: only the owner or an administrator may do this")


async def by_username(session: AsyncSession, username: str) -> User | None:
    """The user of exactly this name (case-sensitively), if any."""
    return await repository.by_username(session, username)


async def email_taken(session: AsyncSession, email: str) -> bool:
    """Case-insensitively: `Alice@x.io` and `alice@x.io` are one mailbox."""
    return await repository.email_taken(session, email)


async def find_user(session: AsyncSession, user_id: int) -> User | None:
    return await repository.get(session, user_id)


async def count_users(session: AsyncSession) -> int:
    return await repository.count(session)


async def any_user_exists(session: AsyncSession) -> bool:
    return await repository.any_user(session)


async def admin_ids(session: AsyncSession) -> list[int]:
    return await repository.admin_ids(session)


async def non_bot_users_without_namespace(session: AsyncSession) -> Sequence[User]:
    """People without a personal namespace (created before the registry was)."""
    return await repository.non_bot_users_without_namespace(session)


USER_SORT = repository.USER_SORT


async def username_typeahead(
    session: AsyncSession, principal: Principal, prefix: str, *, limit: int
) -> list[str]:
    """Usernames of enabled accounts starting with `prefix`, for whoever may add team members
    (administrators, team owners); others are refused."""
    owns_a_team = not principal.admin and await teams.owns_a_team(session, principal)
    if not policy.can_look_up_usernames(principal, owns_a_team=owns_a_team):
        raise Forbidden("Authorization fails: only team owners and administrators look up users")
    return await repository.enabled_usernames_starting_with(session, prefix, limit=limit)


async def membership_counts(
    session: AsyncSession, user_ids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """(namespaces_count, teams_count) of each user (`repository.membership_counts`)."""
    return await repository.membership_counts(session, user_ids)


async def list_users(
    session: AsyncSession, *, offset: int, limit: int | None, order: list[Any] | None = None
) -> tuple[int, Sequence[User]]:
    """How many users there are, and one page of them."""
    total = await repository.count(session)
    users = await repository.page(session, offset=offset, limit=limit, order=order)
    return total, users


async def get_user(session: AsyncSession, id_or_email: str) -> User:
    if id_or_email.isascii() and id_or_email.isdigit():
        user_id = int(id_or_email)
        user = await repository.get(session, user_id) if user_id <= MAX_ID else None
    else:
        user = await repository.by_email(session, id_or_email)
    if user is None:
        raise NotFound("Not found: no such user")
    return user


async def list_tokens(
    session: AsyncSession, principal: Principal, user_id: int
) -> Sequence[ApplicationToken]:
    ensure_self_or_admin(principal, user_id)
    if await repository.get(session, user_id) is None:
        raise NotFound("Not found: no such user")
    return await repository.tokens_of(session, user_id)


async def delete_token(
    session: AsyncSession, principal: Principal, token_id: int
) -> ApplicationToken:
    token = await repository.token(session, token_id)
    if token is None:
        raise NotFound("Not found: no such application token")
    ensure_self_or_admin(principal, token.user_id)
    await session.delete(token)
    activities.record(
        session,
        "application_token.destroy",
        trackable_type="User",
        trackable_id=token.user_id,
        owner_id=principal.user_id,
        parameters={"application": token.application},
    )
    await session.flush()
    return token


async def list_refresh_tokens(
    session: AsyncSession, principal: Principal, user_id: int
) -> Sequence[RefreshToken]:
    ensure_self_or_admin(principal, user_id)
    if await repository.get(session, user_id) is None:
        raise NotFound("Not found: no such user")
    return await repository.refresh_tokens_of(session, user_id)


async def revoke_refresh_tokens(
    session: AsyncSession, principal: Principal, user_id: int, token_id: int | None = None
) -> None:
    """Log docker (and other identity-token clients) out: one login, or all of them."""
    ensure_self_or_admin(principal, user_id)
    if await repository.get(session, user_id) is None:
        raise NotFound("Not found: no such user")
    revoked = await repository.delete_refresh_tokens(session, user_id, token_id)
    if token_id is not None and not revoked:
        raise NotFound("Not found: no such refresh token")
    activities.record(
        session,
        "refresh_token.destroy",
        trackable_type="User",
        trackable_id=user_id,
        owner_id=principal.user_id,
        parameters={"count": revoked},
    )


def check_password_length(password: str) -> None:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise Invalid({"password": [f"must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"]})


async def set_password(session: AsyncSession, user: User, password: str) -> None:
    """New password (own change, administrator, reset link): every browser session, identity
    token and password-reset link of the user ends."""
    check_password_length(password)
    user.encrypted_password = await hash_password(password)
    user.password_changed_at = utcnow()
    await repository.revoke_logins(session, user.id)
    await session.flush()


# --- administration --------------------------------------------------------------------------
async def update_user(
    session: AsyncSession,
    principal: Principal,
    user_id: int,
    *,
    username: str | None,
    email: str | None,
    password: str | None,
    display_name: str | None,
) -> User:
    user = await get_user(session, str(user_id))
    errors: dict[str, list[str]] = {}
    if username is not None and username != user.username:
        if not USERNAME_PATTERN.fullmatch(username) or username.lower() == INTERNAL_USERNAME:
            errors["username"] = ["is not a valid username"]
        elif await repository.username_taken(session, username):
            errors["username"] = ["has already been taken"]
    if email is not None and email.lower() != (user.email or "").lower():
        if not EMAIL_PATTERN.fullmatch(email):
            errors["email"] = ["is not a valid email address"]
        elif await repository.email_taken(session, email):
            errors["email"] = ["has already been taken"]
    if errors:
        raise Invalid(errors)
    if username is not None:
        user.username = username
    if email is not None:
        user.email = email
    if display_name is not None:
        user.display_name = display_name or None
    if password is not None:
        if user.bot:
            raise Invalid({"password": ["bots have no password: use application tokens"]})
        await set_password(session, user, password)
    activities.record(
        session,
        "user.update",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=principal.user_id,
        parameters={"password_changed": password is not None},
    )
    await session.flush()
    await session.refresh(user)
    return user


async def set_enabled(
    session: AsyncSession, principal: Principal, user_id: int, *, enabled: bool
) -> User:
    """Admins enable and disable others; anyone may disable themself, unless they are the last
    administrator (nobody could administer the service then).

    Disabling ends the user's browser sessions, identity (refresh) tokens and reset links for
    good: enabling again does not bring them back. Application tokens are only suspended while
    disabled (as in Portus)."""
    allowed = (policy.can_enable_user if enabled else policy.can_disable_user)(principal, user_id)
    if not allowed:
        if principal.user_id == user_id:
            raise Forbidden("Authorization fails: a disabled account cannot enable itself")
        raise Forbidden("Authorization fails: only administrators change other users")
    await repository.lock(session, user_id)
    user = await get_user(session, str(user_id))
    if not enabled and user.admin and not await repository.other_admins_count(session, user.id):
        raise Invalid({"enabled": ["the last administrator cannot be disabled"]})
    was_enabled = user.enabled
    user.enabled = enabled
    # Also on enabling a disabled user: a login that read the account as enabled just before it
    # was disabled may have stored its token after the disable's delete; nobody can log in while
    # disabled, so no rightful session or identity token exists at that point.
    if not enabled or not was_enabled:
        await repository.revoke_logins(session, user.id)
    activities.record(
        session,
        "user.enabled" if enabled else "user.disabled",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=principal.user_id,
    )
    await session.flush()
    await session.refresh(user)
    return user


async def set_admin(
    session: AsyncSession, principal: Principal, user_id: int, *, admin: bool
) -> User:
    """Toggle admin (never on oneself); admins own the registry's global team."""
    if not policy.can_set_admin(principal, user_id):
        raise Forbidden("Authorization fails: administrators cannot change their own admin flag")
    user = await get_user(session, str(user_id))
    if user.bot and admin:
        raise Invalid({"admin": ["bots cannot be administrators"]})
    await apply_admin(session, user, admin=admin, actor_id=principal.user_id)
    await session.refresh(user)
    return user


async def apply_admin(
    session: AsyncSession,
    user: User,
    *,
    admin: bool,
    actor_id: int | None,
    parameters: dict[str, Any] | None = None,
) -> None:
    """Set the admin flag (no permission check: callers decide); admins own the registry's
    global team."""
    user.admin = admin
    registry = await namespaces.get_registry(session)
    if registry is not None:
        global_ns = await namespaces.global_namespace(session, registry.id)
        if global_ns is not None:
            if admin:
                await teams.set_owner(session, global_ns.team_id, user.id)
            else:
                await teams.remove_from_team(session, global_ns.team_id, user.id)
    activities.record(
        session,
        "user.admin" if admin else "user.no_admin",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=actor_id,
        parameters=parameters,
    )
    await session.flush()


async def delete_user(session: AsyncSession, principal: Principal, user_id: int) -> None:
    """Their memberships and tokens go; their activities and tags stay, anonymised (tags keep
    the user name). Their personal namespace stays (it may hold images) under its hidden team."""
    if not policy.can_delete_user(principal, user_id):
        raise Forbidden("Authorization fails: administrators cannot delete themselves")
    user = await get_user(session, str(user_id))
    if user.admin and not await repository.other_admins_count(session, user.id):
        raise Invalid({"user": ["the last administrator cannot be deleted"]})
    activities.record(
        session,
        "user.delete",
        trackable_type="User",
        trackable_id=None,
        owner_id=principal.user_id,
        parameters={"username": user.username},
    )
    await session.delete(user)
    await session.flush()


async def refuse_directory_name(directory: Directory | None, username: str) -> None:
    """A local account must not take the name of a directory user (who could then never log
    in): 422 naming `username`; 503 when the directory cannot be asked."""
    if directory is None:
        return
    try:
        found = await directory.find(username)
    except DirectoryUnavailable as exc:
        raise ServiceUnavailable(
            f"cannot check the name against the LDAP directory: {exc.message}"
        ) from exc
    if found is not None:
        raise Invalid(
            {
                "username": [
                    "exists in the LDAP directory: that user logs in with the directory password"
                ]
            }
        )
