"""Every query of the LDAP domain: first-login provisioning and the group sync's due work."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import LdapCheck, Team, TeamUser, User


async def people_count(session: AsyncSession) -> int:
    """Users who are not bots."""
    count = await session.scalar(select(func.count(User.id)).where(User.bot.is_(False)))
    return int(count or 0)


# --- the group sync ----------------------------------------------------------------------------
def _team_due(now: datetime, recheck_after: timedelta) -> ColumnElement[bool]:
    return (
        Team.hidden.is_(False)
        & (Team.ldap_group_checked != LdapCheck.disabled)
        & or_(
            Team.ldap_group_checked == LdapCheck.unchecked,
            Team.checked_at.is_(None),
            Team.checked_at < now - recheck_after,
        )
    )


async def work_due(session: AsyncSession, now: datetime, recheck_after: timedelta) -> bool:
    """Some team is due a check, or some user was never checked."""
    team = await session.scalar(select(Team.id).where(_team_due(now, recheck_after)).limit(1))
    if team is not None:
        return True
    user = await session.scalar(
        select(User.id).where(User.ldap_group_checked == LdapCheck.unchecked).limit(1)
    )
    return user is not None


async def due_teams(
    session: AsyncSession, now: datetime, recheck_after: timedelta
) -> Sequence[Team]:
    statement = select(Team).where(_team_due(now, recheck_after)).order_by(Team.id)
    return (await session.scalars(statement)).all()


async def unchecked_users(session: AsyncSession) -> Sequence[User]:
    statement = select(User).where(User.ldap_group_checked == LdapCheck.unchecked).order_by(User.id)
    return (await session.scalars(statement)).all()


async def syncable_teams(session: AsyncSession) -> Sequence[Team]:
    """Teams the sync may fill: not hidden, not excluded."""
    statement = select(Team).where(
        Team.hidden.is_(False), Team.ldap_group_checked != LdapCheck.disabled
    )
    return (await session.scalars(statement)).all()


async def member_ids(session: AsyncSession, team_id: int) -> set[int]:
    return set(await session.scalars(select(TeamUser.user_id).where(TeamUser.team_id == team_id)))


async def people_named(session: AsyncSession, names: list[str]) -> Sequence[User]:
    """The users (not bots) whose lowercased names are in `names` (lowercase)."""
    statement = select(User).where(func.lower(User.username).in_(names), User.bot.is_(false()))
    return (await session.scalars(statement)).all()
