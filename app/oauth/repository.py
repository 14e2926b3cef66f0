"""Every query of sign-ins with providers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import OAuthLogin, OAuthSignup, User


async def claim_login(session: AsyncSession, state: str) -> OAuthLogin | None:
    """The sign-in of this `state`, deleted as it is read: a state is used once."""
    login = (
        await session.execute(select(OAuthLogin).where(OAuthLogin.state == state).with_for_update())
    ).scalar_one_or_none()
    if login is not None:
        await session.delete(login)
        await session.flush()
    return login


async def user_by_identity(session: AsyncSession, provider: str, uid: str) -> User | None:
    return (
        await session.execute(select(User).where(User.provider == provider, User.uid == uid))
    ).scalar_one_or_none()


async def signup_by_lookup(session: AsyncSession, lookup: str) -> OAuthSignup | None:
    return (
        await session.execute(select(OAuthSignup).where(OAuthSignup.lookup == lookup))
    ).scalar_one_or_none()


async def forget_expired(session: AsyncSession, now: datetime) -> int:
    logins = await session.execute(delete(OAuthLogin).where(OAuthLogin.expires_at < now))
    signups = await session.execute(delete(OAuthSignup).where(OAuthSignup.expires_at < now))
    return int(logins.rowcount or 0) + int(signups.rowcount or 0)  # type: ignore[attr-defined]
