"""Browser sessions of the SPA, and what a user changes about themself."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.authz.principal import Principal
from app.core.db import utcnow
from app.core.errors import NotFound
from app.core.security import SESSION_MARKER, TokenDigester
from app.models import User, WebSession
from app.sessions import repository
from app.users import service as users

SESSION_LIFETIME = timedelta(hours=12)


async def open_session(session: AsyncSession, digester: TokenDigester, user_id: int) -> str:
    issued = digester.issue(SESSION_MARKER)
    session.add(
        WebSession(
            user_id=user_id,
            lookup=issued.lookup,
            token_digest=issued.digest,
            expires_at=utcnow() + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return issued.plain


async def close_session(session: AsyncSession, principal: Principal, lookup: str) -> None:
    """Ends the caller's own browser session `lookup` (never another user's)."""
    if principal.user_id is not None:
        await repository.delete_by_lookup(session, lookup, principal.user_id)


async def me(session: AsyncSession, principal: Principal) -> User:
    user = await session.get(User, principal.user_id)
    if user is None:
        raise NotFound("Not found: no such user")
    return user


async def update_me(
    session: AsyncSession,
    principal: Principal,
    *,
    email: str | None,
    display_name: str | None,
) -> User:
    assert principal.user_id is not None
    return await users.update_user(
        session,
        principal,
        principal.user_id,
        username=None,
        email=email,
        password=None,
        display_name=display_name,
    )


async def change_password(
    session: AsyncSession, principal: Principal, *, new_password: str
) -> User:
    """The caller has checked the old password (as a login: `app.auth.credentials`); every
    browser session and identity token of the user ends (they predate the new password)."""
    user = await me(session, principal)
    await users.set_password(session, user, new_password)
    activities.record(
        session,
        "user.change_password",
        trackable_type="User",
        trackable_id=user.id,
        owner_id=user.id,
    )
    return user
