"""LDAP group sync (Portus's background task, every 10 s): directory groups fill the teams of
the same name.

- A team not yet checked (new), or checked more than 7 days ago, receives every member of the
  groupOfNames / groupOfUniqueNames under `ldap.group_base` whose cn is the team's name
  (case-insensitively), as far as they have a Portus account: with `group_sync.default_role`,
  administrators as owners.
- A user not yet checked (new) joins the teams of all their groups once.
- Excluded teams (`POST /api/v1/teams/:id/ldap_check`) and hidden teams are never touched, and
  nobody is ever removed: a member an owner removes stays out until the team's next check.
- The directory is asked (one paged search) only when some team or user is due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.activities import service as activities
from app.core.db import session_scope, utcnow
from app.core.directory import Directory, DirectoryGroup
from app.core.jobs import JobContext
from app.ldap import repository
from app.models import LdapCheck, Role, Team, TeamUser, User

RECHECK_AFTER = timedelta(days=7)


@dataclass
class SyncResult:
    teams_checked: int = 0
    users_checked: int = 0
    added: int = 0

    def summary(self, groups: int) -> str:
        return (
            f"LDAP group sync: {groups} groups; checked {self.teams_checked} teams and "
            f"{self.users_checked} users; added {self.added} team members"
        )


async def _add_members(
    session: AsyncSession, team: Team, users: Iterable[User], default_role: Role
) -> int:
    present = await repository.member_ids(session, team.id)
    added = 0
    for user in users:
        if user.bot or user.id in present:
            continue
        role = Role.owner if user.admin else default_role
        session.add(TeamUser(team_id=team.id, user_id=user.id, role=role))
        present.add(user.id)
        activities.record(
            session,
            "team.add_member",
            trackable_type="Team",
            trackable_id=team.id,
            owner_id=None,  # the system (Portus: the `portus` user)
            recipient_type="User",
            recipient_id=user.id,
            parameters={"role": role.name, "team": team.name, "ldap": True},
        )
        added += 1
    await session.flush()
    return added


async def _users_named(session: AsyncSession, names: Iterable[str]) -> Sequence[User]:
    wanted = sorted({name.lower() for name in names})
    if not wanted:
        return []
    return await repository.people_named(session, wanted)


async def apply_groups(
    session: AsyncSession,
    groups: Sequence[DirectoryGroup],
    *,
    default_role: Role,
    now: datetime | None = None,
) -> SyncResult:
    """Add the groups' members to the due teams, and due users to their groups' teams."""
    now = now or utcnow()
    result = SyncResult()
    by_name = {group.name.lower(): group for group in groups}

    teams = await repository.due_teams(session, now, RECHECK_AFTER)
    for team in teams:
        group = by_name.get(team.name.lower())
        if group is not None:
            members = await _users_named(session, group.members)
            result.added += await _add_members(session, team, members, default_role)
        team.ldap_group_checked = LdapCheck.checked
        team.checked_at = now
        result.teams_checked += 1

    new_users = await repository.unchecked_users(session)
    if new_users:
        syncable = {team.name.lower(): team for team in await repository.syncable_teams(session)}
        for user in new_users:
            if not user.bot:
                for group in groups:
                    target = syncable.get(group.name.lower())
                    if target is not None and user.username.lower() in group.members:
                        result.added += await _add_members(session, target, [user], default_role)
            user.ldap_group_checked = LdapCheck.checked
            result.users_checked += 1
    await session.flush()
    return result


async def ldap_group_sync_pass(ctx: JobContext) -> str | None:
    """One pass of the group sync (registered with the periodic tasks when LDAP and
    `ldap.group_sync` are on). A directory failure fails the pass: it is retried later."""
    settings = ctx.settings
    if not (settings.ldap.enabled and settings.ldap.group_sync.enabled):
        return None
    now = utcnow()
    async with session_scope(ctx.sessionmaker) as session:
        if not await repository.work_due(session, now, RECHECK_AFTER):
            return None
    directory = Directory(settings.ldap, workers=1)
    try:
        groups = await directory.groups()
    finally:
        directory.close()
    async with session_scope(ctx.sessionmaker) as session:
        result = await apply_groups(
            session, groups, default_role=Role[settings.ldap.group_sync.default_role], now=now
        )
    return result.summary(len(groups))
