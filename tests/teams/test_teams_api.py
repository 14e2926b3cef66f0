from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import new_user_headers


class TestTeams:
    async def test_create_list_show_update(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        bob = await new_user_headers(session, digester, username="bob")
        created = await client.post(
            "/api/v1/teams", json={"name": "devs", "description": "d"}, headers=alice
        )
        assert created.status_code == 201
        team_id = created.json()["id"]
        assert [t["name"] for t in (await client.get("/api/v1/teams", headers=alice)).json()] == [
            "devs"
        ]
        # bob is no member: the team is neither listed nor shown to him
        assert (await client.get("/api/v1/teams", headers=bob)).json() == []
        assert (await client.get(f"/api/v1/teams/{team_id}", headers=bob)).status_code == 404
        renamed = await client.put(
            f"/api/v1/teams/{team_id}", json={"team": {"name": "developers"}}, headers=alice
        )
        assert renamed.status_code == 200
        assert renamed.json()["name"] == "developers"
        taken = await client.post("/api/v1/teams", json={"name": "developers"}, headers=bob)
        assert taken.status_code == 422
        assert taken.json()["message"] == {"name": ["has already been taken"]}

    async def test_hidden_teams_are_never_listed(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)  # personal namespaces: hidden teams
        admin = await new_user_headers(session, digester, username="root", admin=True)
        await factories.create_user(session, username="carol")
        listed = await client.get("/api/v1/teams?all=true", headers=admin)
        assert listed.json() == []

    async def test_create_team_permission(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        admin = await new_user_headers(session, digester, username="root", admin=True)
        async with make_client(user_permission={"create_team": {"enabled": False}}) as client:
            refused = await client.post("/api/v1/teams", json={"name": "t1"}, headers=alice)
            assert refused.status_code == 403
            allowed = await client.post("/api/v1/teams", json={"name": "t1"}, headers=admin)
            assert allowed.status_code == 201
            owner_choice = await client.post(
                "/api/v1/teams", json={"name": "t2", "owner_id": 1}, headers=alice
            )
            assert owner_choice.status_code == 403

    async def test_manage_team_flag(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        async with make_client() as client:
            team_id = (
                await client.post("/api/v1/teams", json={"name": "ops"}, headers=alice)
            ).json()["id"]
        async with make_client(user_permission={"manage_team": {"enabled": False}}) as client:
            response = await client.put(
                f"/api/v1/teams/{team_id}", json={"team": {"description": "x"}}, headers=alice
            )
        assert response.status_code == 403


class TestMembers:
    async def _team(
        self, client: httpx.AsyncClient, owner: dict[str, str], name: str = "devs"
    ) -> int:
        response = await client.post("/api/v1/teams", json={"name": name}, headers=owner)
        team_id: int = response.json()["id"]
        return team_id

    async def test_add_change_remove(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        bob = await new_user_headers(session, digester, username="bob")
        team_id = await self._team(client, alice)
        added = await client.post(
            f"/api/v1/teams/{team_id}/members",
            json={"user": "bob", "role": "viewer"},
            headers=alice,
        )
        assert added.status_code == 201
        member_id = added.json()["id"]
        # a viewer cannot manage members, but sees the team now
        assert (await client.get(f"/api/v1/teams/{team_id}", headers=bob)).status_code == 200
        denied = await client.put(
            f"/api/v1/teams/{team_id}/members/{member_id}", json={"role": "owner"}, headers=bob
        )
        assert denied.status_code == 403
        promoted = await client.put(
            f"/api/v1/teams/{team_id}/members/{member_id}",
            json={"role": "contributor"},
            headers=alice,
        )
        assert promoted.json()["role"] == "contributor"
        members = await client.get(f"/api/v1/teams/{team_id}/members", headers=bob)
        assert sorted((m["username"], m["role"]) for m in members.json()) == [
            ("alice", "owner"),
            ("bob", "contributor"),
        ]
        removed = await client.delete(f"/api/v1/teams/{team_id}/members/{member_id}", headers=alice)
        assert removed.status_code == 204
        duplicate = await client.post(
            f"/api/v1/teams/{team_id}/members",
            json={"user": "alice", "role": "viewer"},
            headers=alice,
        )
        assert duplicate.status_code == 422

    async def test_the_last_owner_stays(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        team_id = await self._team(client, alice)
        me = (await client.get(f"/api/v1/teams/{team_id}/members", headers=alice)).json()[0]
        demote = await client.put(
            f"/api/v1/teams/{team_id}/members/{me['id']}", json={"role": "viewer"}, headers=alice
        )
        assert demote.status_code == 422
        assert "only owner" in demote.json()["message"]["role"][0]
        remove = await client.delete(f"/api/v1/teams/{team_id}/members/{me['id']}", headers=alice)
        assert remove.status_code == 422

    async def test_admins_join_as_owners_and_stay_owners(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        await new_user_headers(session, digester, username="root", admin=True)
        team_id = await self._team(client, alice)
        added = await client.post(
            f"/api/v1/teams/{team_id}/members",
            json={"user": "root", "role": "viewer"},
            headers=alice,
        )
        assert added.json()["role"] == "owner"
        demote = await client.put(
            f"/api/v1/teams/{team_id}/members/{added.json()['id']}",
            json={"role": "viewer"},
            headers=alice,
        )
        assert demote.status_code == 422
        assert "administrators" in demote.json()["message"]["role"][0]

    async def test_validation_names_the_field(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        team_id = await self._team(client, alice)
        bad_role = await client.post(
            f"/api/v1/teams/{team_id}/members", json={"user": "alice", "role": "god"}, headers=alice
        )
        assert bad_role.status_code == 422
        assert "role" in bad_role.json()["message"]
        nobody = await client.post(
            f"/api/v1/teams/{team_id}/members",
            json={"user": "ghost", "role": "viewer"},
            headers=alice,
        )
        assert nobody.status_code == 404  # as Portus's find_by!
        assert nobody.json()["message"] == "Not found: no user named 'ghost'"


class TestDelete:
    async def test_namespaces_move_to_the_new_team(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        alice = await new_user_headers(session, digester, username="alice")
        old = (await client.post("/api/v1/teams", json={"name": "old"}, headers=alice)).json()
        await client.post("/api/v1/teams", json={"name": "new"}, headers=alice)
        ns = await client.post(
            "/api/v1/namespaces", json={"name": "tools", "team": "old"}, headers=alice
        )
        assert ns.status_code == 201
        deleted = await client.delete(f"/api/v1/teams/{old['id']}?new_team=new", headers=alice)
        assert deleted.status_code == 204
        moved = await client.get(f"/api/v1/namespaces/{ns.json()['id']}", headers=alice)
        assert moved.json()["team"]["name"] == "new"
        assert (await client.get(f"/api/v1/teams/{old['id']}", headers=alice)).status_code == 404

    async def test_without_new_team_empty_namespaces_go_with_it(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        alice = await new_user_headers(session, digester, username="alice")
        team = (await client.post("/api/v1/teams", json={"name": "t"}, headers=alice)).json()
        ns = await client.post(
            "/api/v1/namespaces", json={"name": "n1", "team": "t"}, headers=alice
        )
        deleted = await client.delete(f"/api/v1/teams/{team['id']}", headers=alice)
        assert deleted.status_code == 204
        gone = await client.get(f"/api/v1/namespaces/{ns.json()['id']}", headers=alice)
        assert gone.status_code == 404

    async def test_who_may_delete(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        alice = await new_user_headers(session, digester, username="alice")
        bob = await new_user_headers(session, digester, username="bob")
        async with make_client() as client:
            team = (await client.post("/api/v1/teams", json={"name": "t"}, headers=alice)).json()
            await client.post(
                f"/api/v1/teams/{team['id']}/members",
                json={"user": "bob", "role": "contributor"},
                headers=alice,
            )
            refused = await client.delete(f"/api/v1/teams/{team['id']}", headers=bob)
            assert refused.status_code == 403
            unknown = await client.delete(
                f"/api/v1/teams/{team['id']}?new_team=nope", headers=alice
            )
            assert unknown.status_code == 404  # Portus: Team.find_by! (RecordNotFound)
            assert "nope" in unknown.json()["message"]
            itself = await client.delete(f"/api/v1/teams/{team['id']}?new_team=t", headers=alice)
            assert itself.status_code == 422
            assert itself.json()["message"] == {"new_team": ["is the team being deleted"]}
        async with make_client(delete={"enabled": False}) as client:
            disabled = await client.delete(f"/api/v1/teams/{team['id']}", headers=alice)
            assert disabled.status_code == 403
        async with make_client(delete={"contributors": True}) as client:
            allowed = await client.delete(f"/api/v1/teams/{team['id']}", headers=bob)
            assert allowed.status_code == 204
