"""LDAP group sync against a real slapd: groupOfNames `developers` (alice, bob, dave) and
groupOfUniqueNames `qa` (bob, carol) fill the teams of the same name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.core.config import Settings
from app.core.db import utcnow
from app.core.directory import DirectoryUnavailable
from app.core.security import TokenDigester
from app.jobs.context import TaskContext, open_task_context
from app.jobs.runner import periodic_tasks
from app.ldap.sync import ldap_group_sync_pass
from app.models import Activity, LdapCheck, Role, Team, TeamUser, User
from app.users import service as users
from tests.conftest import ClientFactory, make_settings
from tests.fixtures import factories
from tests.ldap.conftest import ldap_config
from tests.support.auth import portus_auth, token_headers
from tests.support.slapd import Slapd
from tests.support.tools import free_port


async def directory_user(session: AsyncSession, username: str, *, admin: bool = False) -> User:
    return await users.create_user(
        session,
        users.NewUser(username=username, email=None, password=None, admin=admin, directory=True),
        actor_id=None,
    )


async def team_with(session: AsyncSession, name: str, members: dict[User, Role]) -> Team:
    team = Team(name=name)
    session.add(team)
    await session.flush()
    for user, role in members.items():
        session.add(TeamUser(team_id=team.id, user_id=user.id, role=role))
    await session.flush()
    return team


async def roles(session: AsyncSession, team: Team) -> dict[str, str]:
    rows = await session.execute(
        select(User.username, TeamUser.role)
        .join(TeamUser, TeamUser.user_id == User.id)
        .where(TeamUser.team_id == team.id)
    )
    return {username: role.name for username, role in rows}


@dataclass
class World:
    boss: User
    olivia: User
    zed: User
    developers: Team
    qa: Team
    unrelated: Team


@pytest.fixture
async def world(session: AsyncSession) -> World:
    """Local accounts: boss (admin), olivia (owns qa), zed (in developers, not in the group);
    directory accounts alice, bob, dave (admin). carol has not logged in yet."""
    boss = await factories.create_user(session, username="boss", admin=True)
    olivia = await factories.create_user(session, username="olivia")
    zed = await factories.create_user(session, username="zed")
    for name in ("alice", "bob"):
        await directory_user(session, name)
    await directory_user(session, "dave", admin=True)
    developers = await team_with(session, "developers", {boss: Role.owner, zed: Role.viewer})
    qa = await team_with(session, "QA", {olivia: Role.owner})  # names match case-insensitively
    unrelated = await team_with(session, "unrelated", {olivia: Role.owner})
    return World(boss, olivia, zed, developers, qa, unrelated)


@pytest.fixture
async def context(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], slapd: Slapd
) -> AsyncIterator[TaskContext]:
    synced = make_settings(settings, ldap=ldap_config(slapd))
    async with open_task_context(synced, sessionmaker=sessionmaker) as ctx:
        yield ctx


def with_ldap(ctx: TaskContext, **ldap: Any) -> TaskContext:
    return TaskContext(
        settings=make_settings(ctx.settings, ldap=ldap),
        sessionmaker=ctx.sessionmaker,
        http=ctx.http,
        client_for=ctx.client_for,
    )


async def test_groups_fill_the_teams_of_the_same_name_and_nobody_is_removed(
    session: AsyncSession, world: World, context: TaskContext
) -> None:
    summary = await ldap_group_sync_pass(context)
    assert summary is not None and "added 4 team members" in summary
    assert await roles(session, world.developers) == {
        "boss": "owner",
        "zed": "viewer",  # not in the group: stays
        "alice": "viewer",
        "bob": "viewer",
        "dave": "owner",  # an administrator
    }
    assert await roles(session, world.qa) == {"olivia": "owner", "bob": "viewer"}
    assert await roles(session, world.unrelated) == {"olivia": "owner"}
    added = (await session.scalars(select(Activity).where(Activity.key == "team.add_member"))).all()
    assert len(added) == 4
    assert all(a.owner_id is None and a.parameters["ldap"] is True for a in added)

    # Nothing is due any more: the directory is not even asked.
    assert await ldap_group_sync_pass(with_ldap(context, port=free_port())) is None

    # An owner removes bob: he stays out until the team's next check, 7 days later.
    await session.execute(
        delete(TeamUser).where(
            TeamUser.team_id == world.developers.id,
            TeamUser.user_id.in_(select(User.id).where(User.username == "bob")),
        )
    )
    await ldap_group_sync_pass(context)
    assert "bob" not in await roles(session, world.developers)
    team = await session.get(Team, world.developers.id, populate_existing=True)
    assert team is not None and team.ldap_group_checked is LdapCheck.checked
    team.checked_at = utcnow() - timedelta(days=8)
    await session.flush()
    await ldap_group_sync_pass(context)
    assert (await roles(session, world.developers))["bob"] == "viewer"
    assert "zed" in await roles(session, world.developers)


async def test_a_new_user_joins_the_teams_of_their_groups(
    session: AsyncSession, world: World, context: TaskContext
) -> None:
    await ldap_group_sync_pass(context)
    assert "carol" not in await roles(session, world.qa)
    await directory_user(session, "carol")  # carol logs in for the first time
    summary = await ldap_group_sync_pass(context)
    assert summary is not None and "added 1 team members" in summary
    assert await roles(session, world.qa) == {"olivia": "owner", "bob": "viewer", "carol": "viewer"}
    assert "carol" not in await roles(session, world.developers)


async def test_default_role_is_configurable(
    session: AsyncSession, world: World, context: TaskContext
) -> None:
    await ldap_group_sync_pass(with_ldap(context, group_sync={"default_role": "contributor"}))
    developers = await roles(session, world.developers)
    assert developers["alice"] == developers["bob"] == "contributor"
    assert developers["dave"] == "owner"


async def test_a_directory_failure_fails_the_pass_and_checks_nothing(
    session: AsyncSession, world: World, context: TaskContext
) -> None:
    with pytest.raises(DirectoryUnavailable):
        await ldap_group_sync_pass(with_ldap(context, port=free_port(), timeout=1))
    team = await session.get(Team, world.developers.id, populate_existing=True)
    assert team is not None and team.ldap_group_checked is LdapCheck.unchecked


async def test_excluded_teams_are_left_alone(
    session: AsyncSession,
    digester: TokenDigester,
    world: World,
    context: TaskContext,
    make_client: ClientFactory,
    slapd: Slapd,
) -> None:
    bob = await session.scalar(select(User).where(User.username == "bob"))
    assert bob is not None
    session.add(TeamUser(team_id=world.unrelated.id, user_id=bob.id, role=Role.viewer))
    await session.flush()

    olivia = await token_headers(session, digester, world.olivia)
    zed = await token_headers(session, digester, world.zed)
    bob_headers = await token_headers(session, digester, bob)
    boss = await token_headers(session, digester, world.boss)
    async with make_client(ldap=ldap_config(slapd)) as client:
        # zed is no member of qa (404: not his to see); bob only a viewer of unrelated.
        url = f"/api/v1/teams/{world.qa.id}/ldap_check"
        assert (await client.post(url, headers=zed)).status_code == 404
        viewer = await client.post(
            f"/api/v1/teams/{world.unrelated.id}/ldap_check", headers=bob_headers
        )
        assert viewer.status_code == 403
        excluded = await client.post(url, headers=olivia)
        assert excluded.status_code == 200, excluded.text
        assert excluded.json()["ldap_group_checked"] == "disabled"
        assert (await client.post(url, headers=olivia)).status_code == 200  # idempotent
        by_admin = await client.post(f"/api/v1/teams/{world.unrelated.id}/ldap_check", headers=boss)
        assert by_admin.status_code == 200
    recorded = (
        await session.scalars(select(Activity).where(Activity.key == "team.disable_ldap_check"))
    ).all()
    assert [(a.trackable_id, a.owner_id) for a in recorded] == [
        (world.qa.id, world.olivia.id),
        (world.unrelated.id, world.boss.id),
    ]

    await ldap_group_sync_pass(context)
    await directory_user(session, "carol")  # and a new member of qa
    await ldap_group_sync_pass(context)
    assert await roles(session, world.qa) == {"olivia": "owner"}
    assert "alice" in await roles(session, world.developers)


async def test_ldap_check_is_405_without_ldap_or_group_sync(
    session: AsyncSession,
    digester: TokenDigester,
    world: World,
    make_client: ClientFactory,
    slapd: Slapd,
) -> None:
    token = await factories.create_token(session, digester, world.olivia)
    headers = portus_auth("olivia", token)
    url = f"/api/v1/teams/{world.qa.id}/ldap_check"
    async with make_client() as client:
        assert (await client.post(url, headers=headers)).status_code == 405
    no_sync = ldap_config(slapd, group_sync={"enabled": False})
    async with make_client(ldap=no_sync) as client:
        response = await client.post(url, headers=headers)
        assert response.status_code == 405
        assert "group sync" in response.json()["message"]


def test_the_pass_is_registered_only_with_ldap_and_group_sync(context: TaskContext) -> None:
    def names(ctx: TaskContext) -> set[str]:
        return {task.name for task in periodic_tasks(ctx)}

    assert "ldap_group_sync" in names(context)
    assert "ldap_group_sync" not in names(with_ldap(context, group_sync={"enabled": False}))
    assert "ldap_group_sync" not in names(with_ldap(context, enabled=False))
