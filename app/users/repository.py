from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import utcnow
from app.models import (
    ApplicationToken,
    Namespace,
    PasswordResetToken,
    RefreshToken,
    Team,
    TeamUser,
    User,
    WebSession,
)


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def by_email_any_case(session: AsyncSession, email: str) -> User | None:
    statement = select(User).where(func.lower(User.email) == email.lower()).limit(1)
    return await session.scalar(statement)


async def email_taken(session: AsyncSession, email: str) -> bool:
    """Case-insensitively: `Alice@x.io` and `alice@x.io` are one mailbox."""
    statement = select(User.id).where(func.lower(User.email) == email.lower()).limit(1)
    return await session.scalar(statement) is not None


async def username_taken(session: AsyncSession, username: str) -> bool:
    """Case-insensitively, so that `Alice` cannot pose as `alice`."""
    statement = select(User.id).where(func.lower(User.username) == username.lower()).limit(1)
    return await session.scalar(statement) is not None


async def lock(session: AsyncSession, user_id: int) -> None:
    await session.execute(select(User.id).where(User.id == user_id).with_for_update())


async def any_user(session: AsyncSession) -> bool:
    return await session.scalar(select(User.id).limit(1)) is not None


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


USER_SORT = {
    "id": User.id,
    "username": User.username,
    "email": User.email,
    "created_at": User.created_at,
    "updated_at": User.updated_at,
}


async def page(
    session: AsyncSession, *, offset: int, limit: int | None, order: list[Any] | None = None
) -> Sequence[User]:
    statement = select(User).order_by(*(order or [User.id])).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.scalars(statement)).all()


async def other_admins_count(session: AsyncSession, user_id: int) -> int:
    """Enabled administrators other than `user_id`."""
    statement = select(func.count(User.id)).where(
        User.admin.is_(True), User.enabled.is_(True), User.id != user_id
    )
    return int(await session.scalar(statement) or 0)


async def admin_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(User.id).where(User.admin)))


async def non_bot_users_without_namespace(session: AsyncSession) -> Sequence[User]:
    return (
        await session.scalars(
            select(User).where(User.bot.is_(False), User.namespace_id.is_(None)).order_by(User.id)
        )
    ).all()


async def tokens_of(session: AsyncSession, user_id: int) -> Sequence[ApplicationToken]:
    return (
        await session.scalars(
            select(ApplicationToken)
            .where(ApplicationToken.user_id == user_id)
            .order_by(ApplicationToken.id)
        )
    ).all()


async def token_count(session: AsyncSession, user_id: int) -> int:
    statement = select(func.count()).where(ApplicationToken.user_id == user_id)
    return int(await session.scalar(statement) or 0)


async def refresh_tokens_of(session: AsyncSession, user_id: int) -> Sequence[RefreshToken]:
    statement = (
        select(RefreshToken).where(RefreshToken.user_id == user_id).order_by(RefreshToken.id)
    )
    return (await session.scalars(statement)).all()


async def delete_refresh_tokens(
    session: AsyncSession, user_id: int, token_id: int | None = None
) -> int:
    statement = delete(RefreshToken).where(RefreshToken.user_id == user_id)
    if token_id is not None:
        statement = statement.where(RefreshToken.id == token_id)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def token(session: AsyncSession, token_id: int) -> ApplicationToken | None:
    return await session.get(ApplicationToken, token_id)


async def revoke_logins(session: AsyncSession, user_id: int) -> None:
    """Browser sessions, identity tokens and password-reset links of a user."""
    for model in (WebSession, RefreshToken, PasswordResetToken):
        await session.execute(delete(model).where(model.user_id == user_id))


async def reset_token(session: AsyncSession, lookup: str) -> PasswordResetToken | None:
    statement = select(PasswordResetToken).where(PasswordResetToken.lookup == lookup)
    return await session.scalar(statement)


async def consume_reset_token(session: AsyncSession, token_id: int) -> bool:
    """Deletes it; False when it was gone already (a concurrent use won)."""
    result = await session.execute(
        delete(PasswordResetToken).where(PasswordResetToken.id == token_id)
    )
    return bool(getattr(result, "rowcount", 0))


async def delete_reset_tokens(session: AsyncSession, user_id: int) -> None:
    await session.execute(delete(PasswordResetToken).where(PasswordResetToken.user_id == user_id))


async def delete_expired_reset_tokens(session: AsyncSession) -> None:
    await session.execute(
        delete(PasswordResetToken).where(PasswordResetToken.expires_at <= utcnow())
    )


async def membership_counts(
    session: AsyncSession, user_ids: Collection[int]
) -> dict[int, tuple[int, int]]:
    """(namespaces, teams) of each user, in one query: the namespaces of the teams they belong
    to (their personal one included), and their visible teams (not the hidden personal and
    global ones)."""
    if not user_ids:
        return {}
    teams = (
        select(func.count(TeamUser.id))
        .join(Team, Team.id == TeamUser.team_id)
        .where(TeamUser.user_id == User.id, Team.hidden.is_(False))
        .correlate(User)
        .scalar_subquery()
    )
    namespaces = (
        select(func.count(Namespace.id))
        .join(TeamUser, TeamUser.team_id == Namespace.team_id)
        .where(TeamUser.user_id == User.id)
        .correlate(User)
        .scalar_subquery()
    )
    statement = select(User.id, namespaces, teams).where(User.id.in_(user_ids))
    rows = (await session.execute(statement)).all()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


async def enabled_usernames_starting_with(
    session: AsyncSession, prefix: str, *, limit: int
) -> list[str]:
    """Usernames of enabled accounts that start with `prefix` (any case), in order."""
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    statement = (
        select(User.username)
        .where(User.enabled.is_(True), func.lower(User.username).like(escaped + "%", escape="\\"))
        .order_by(func.lower(User.username), User.username)
        .limit(limit)
    )
    return list(await session.scalars(statement))
