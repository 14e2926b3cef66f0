"""Local accounts of directory users: created at their first login, promoted from admin_base."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.directory import DirectoryUser
from app.core.errors import Invalid
from app.ldap import repository
from app.models import User
from app.users import service as users

logger = logging.getLogger(__name__)


async def _usable_email(session: AsyncSession, email: str | None) -> str | None:
    """The guessed email, unless it is malformed or another account has it (then none)."""
    if email is None or not users.EMAIL_PATTERN.fullmatch(email):
        return None
    if await users.email_taken(session, email):
        logger.warning("LDAP login: the guessed email of a new user is taken; left empty")
        return None
    return email


async def _no_people_yet(session: AsyncSession) -> bool:
    """No user but bots: the first directory login makes an administrator (first_user_admin)."""
    return await repository.people_count(session) == 0


async def provision(session: AsyncSession, found: DirectoryUser, *, first_user_admin: bool) -> User:
    """The local user of a directory user who just bound with their password.

    The first login creates it: no local password, the personal namespace, an administrator
    when found under `admin_base` (or when it is the very first person and first_user_admin is
    on). Later logins promote it when it is now under `admin_base`; they never demote (an
    administrator may have made it admin in Portus). Raises Invalid when the directory name
    cannot be a Portus user name.
    """
    user = await users.by_username(session, found.username)
    if user is None:
        admin = found.admin or (first_user_admin and await _no_people_yet(session))
        return await users.create_user(
            session,
            users.NewUser(
                username=found.username,
                email=await _usable_email(session, found.email),
                password=None,
                admin=admin,
                directory=True,
            ),
            actor_id=None,
        )
    if user.provider is not None:
        # Someone signed in with a provider under this name before the directory user first
        # logged in (the name check could not stop it: the directory was added later).
        raise Invalid({"username": [f"belongs to an account that signs in with {user.provider}"]})
    if found.admin and not user.admin and not user.bot:
        await users.apply_admin(
            session, user, admin=True, actor_id=None, parameters={"ldap": "admin_base"}
        )
    return user
