"""What the web UI reads of teams, their members, users and webhooks: the caller's rights from
the policy, and counts computed for a whole page at once."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Registry, Role, Team, TeamUser, User, Webhook
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import admin_headers, token_headers
from tests.support.statements import counted_statements


async def _team(
    session: AsyncSession, name: str, members: dict[User, Role], namespaces: int = 0
) -> Team:
    team = Team(name=name)
    session.add(team)
    await session.flush()
    for user, role in members.items():
        session.add(TeamUser(team_id=team.id, user_id=user.id, role=role))
    registry = await session.scalar(select(Registry).limit(1))
    if registry is None and namespaces:
        registry = await factories.create_registry(session)
    for n in range(namespaces):
        assert registry is not None
        session.add(Namespace(name=f"{name}-{n}", registry_id=registry.id, team_id=team.id))
    await session.flush()
    return team


class TestTeams:
    async def test_role_rights_and_counts(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        owner = await factories.create_user(session, username="olivia")
        contributor = await factories.create_user(session, username="carl")
        team = await _team(
            session, "devs", {owner: Role.owner, contributor: Role.contributor}, namespaces=2
        )
        listed = await client.get(
            "/api/v1/teams", headers=await token_headers(session, digester, owner)
        )
        assert listed.status_code == 200
        (row,) = listed.json()
        assert {k: row[k] for k in ("role", "updatable", "destroyable")} == {
            "role": "owner",
            "updatable": True,
            "destroyable": True,
        }
        assert (row["members_count"], row["namespaces_count"]) == (2, 2)
        shown = await client.get(
            f"/api/v1/teams/{team.id}", headers=await token_headers(session, digester, contributor)
        )
        assert {k: shown.json()[k] for k in ("role", "updatable", "destroyable")} == {
            "role": "contributor",
            "updatable": False,
            "destroyable": False,
        }
        by_admin = await client.get(
            f"/api/v1/teams/{team.id}", headers=await admin_headers(session, digester)
        )
        assert by_admin.json()["role"] is None
        assert by_admin.json()["updatable"] is True

    async def test_the_flags_follow_the_settings(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        owner = await factories.create_user(session, username="olivia")
        contributor = await factories.create_user(session, username="carl")
        team = await _team(session, "devs", {owner: Role.owner, contributor: Role.contributor})
        owner_headers = await token_headers(session, digester, owner)
        contributor_headers = await token_headers(session, digester, contributor)
        async with make_client(
            delete={"enabled": True, "contributors": True},
            user_permission={"manage_team": {"enabled": False}},
        ) as client:
            as_owner = (await client.get(f"/api/v1/teams/{team.id}", headers=owner_headers)).json()
            as_contributor = (
                await client.get(f"/api/v1/teams/{team.id}", headers=contributor_headers)
            ).json()
        assert (as_owner["updatable"], as_owner["destroyable"]) == (False, True)
        assert as_contributor["destroyable"] is True

    async def test_created_and_updated_teams_carry_them_too(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        owner = await factories.create_user(session, username="olivia")
        headers = await token_headers(session, digester, owner)
        created = await client.post("/api/v1/teams", json={"name": "devs"}, headers=headers)
        assert created.status_code == 201
        assert created.json()["role"] == "owner"
        assert created.json()["members_count"] == 1
        updated = await client.put(
            f"/api/v1/teams/{created.json()['id']}",
            json={"team": {"description": "d"}},
            headers=headers,
        )
        assert updated.json()["namespaces_count"] == 0
        assert updated.json()["updatable"] is True

    async def test_a_page_runs_as_many_statements_for_many_teams(
        self,
        session: AsyncSession,
        connection: AsyncConnection,
        client: httpx.AsyncClient,
        digester: TokenDigester,
    ) -> None:
        headers = await admin_headers(session, digester)
        someone = await factories.create_user(session, username="someone")

        async def statements() -> int:
            with counted_statements(connection) as seen:
                assert (await client.get("/api/v1/teams", headers=headers)).status_code == 200
            return len(seen)

        await _team(session, "t0", {someone: Role.owner})
        few = await statements()
        for n in range(1, 8):
            await _team(session, f"t{n}", {someone: Role.viewer}, namespaces=1)
        assert await statements() == few


class TestMembers:
    async def test_shown_name_avatar_and_current(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        owner = await factories.create_user(session, username="olivia", display_name="Olivia O.")
        viewer = await factories.create_user(session, username="victor")
        team = await _team(session, "devs", {owner: Role.owner, viewer: Role.viewer})
        headers = await token_headers(session, digester, viewer)
        async with make_client(display_name={"enabled": True}) as client:
            members = (await client.get(f"/api/v1/teams/{team.id}/members", headers=headers)).json()
        assert [(m["username"], m["display_name"], m["current"]) for m in members] == [
            ("olivia", "Olivia O.", False),
            ("victor", "victor", True),
        ]
        assert members[0]["avatar_url"].startswith("https://www.gravatar.com/avatar/")
        assert members[0]["admin"] is False
        async with make_client(gravatar={"enabled": False}) as client:
            members = (await client.get(f"/api/v1/teams/{team.id}/members", headers=headers)).json()
        # display names off: the username shows
        assert [(m["display_name"], m["avatar_url"]) for m in members] == [
            ("olivia", None),
            ("victor", None),
        ]

    async def test_added_member(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        owner = await factories.create_user(session, username="olivia")
        await factories.create_user(session, username="victor")
        team = await _team(session, "devs", {owner: Role.owner})
        added = await client.post(
            f"/api/v1/teams/{team.id}/members",
            json={"user": "victor", "role": "viewer"},
            headers=await token_headers(session, digester, owner),
        )
        assert added.status_code == 201
        assert (added.json()["display_name"], added.json()["current"]) == ("victor", False)


class TestUsers:
    async def test_counts(
        self,
        session: AsyncSession,
        connection: AsyncConnection,
        client: httpx.AsyncClient,
        digester: TokenDigester,
    ) -> None:
        headers = await admin_headers(session, digester, "root")
        registry = await factories.create_registry(session)
        alice = await factories.create_user(session, username="alice")  # a personal namespace
        await _team(session, "devs", {alice: Role.viewer}, namespaces=2)
        await _team(session, "ops", {alice: Role.owner})
        shown = await client.get(f"/api/v1/users/{alice.id}", headers=headers)
        assert (shown.json()["namespaces_count"], shown.json()["teams_count"]) == (3, 2)
        with counted_statements(connection) as few:
            listed = await client.get("/api/v1/users", headers=headers)
        counts = {u["username"]: (u["namespaces_count"], u["teams_count"]) for u in listed.json()}
        assert counts["alice"] == (3, 2)
        assert counts["root"] == (0, 0)
        for n in range(5):
            user = await factories.create_user(session, username=f"u{n}")
            await factories.create_namespace(session, registry, members={user.id: Role.owner})
        with counted_statements(connection) as many:
            listed = await client.get("/api/v1/users", headers=headers)
        assert len(listed.json()) == 7
        assert len(many) == len(few)


class TestWebhooks:
    async def test_flags(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session)
        owner = await factories.create_user(session, username="olivia")
        viewer = await factories.create_user(session, username="victor")
        namespace = await factories.create_namespace(
            session, registry, members={owner.id: Role.owner, viewer.id: Role.viewer}
        )
        webhook = Webhook(
            namespace_id=namespace.id, name="ci", url="http://ci/", secret_encrypted="-"
        )
        session.add(webhook)
        await session.flush()
        path = f"/api/v1/namespaces/{namespace.id}/webhooks"
        owner_headers = await token_headers(session, digester, owner)
        viewer_headers = await token_headers(session, digester, viewer)

        def flags(body: dict[str, object]) -> tuple[object, object]:
            return body["updatable"], body["destroyable"]

        async with make_client() as client:
            assert flags((await client.get(path, headers=owner_headers)).json()[0]) == (True, True)
            assert flags((await client.get(path, headers=viewer_headers)).json()[0]) == (
                False,
                False,
            )
            toggled = await client.put(f"{path}/{webhook.id}/toggle_enabled", headers=owner_headers)
            assert flags(toggled.json()) == (True, True)
        async with make_client(user_permission={"create_webhook": {"enabled": False}}) as client:
            shown = await client.get(f"{path}/{webhook.id}", headers=owner_headers)
            assert flags(shown.json()) == (True, False)
