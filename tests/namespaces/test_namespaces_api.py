from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Repository, Role, Tag, Team, TeamUser, User, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import portus_auth, token_headers
from tests.support.tools import free_port


async def member_of_team(
    session: AsyncSession, digester: TokenDigester, role: Role | None
) -> tuple[dict[str, str], str]:
    """A user (with `role` in team `devs`, or none) and the team's name."""
    user = await factories.create_user(session, username="member")
    owner = await factories.create_user(session, username="lead")
    team = Team(name="devs", hidden=False)
    session.add(team)
    await session.flush()
    session.add(TeamUser(team_id=team.id, user_id=owner.id, role=Role.owner))
    if role is not None:
        session.add(TeamUser(team_id=team.id, user_id=user.id, role=role))
    await session.flush()
    token = await factories.create_token(session, digester, user)
    return portus_auth("member", token), "devs"


class TestCreate:
    @pytest.mark.parametrize(
        ("role", "policy", "status"),
        [
            (Role.owner, "allow-teams", 201),
            (Role.contributor, "allow-teams", 201),
            (Role.viewer, "allow-teams", 403),
            (None, "allow-teams", 403),
            (Role.owner, "allow-personal", 403),
            (Role.owner, "admin-only", 403),
        ],
    )
    async def test_who_may_create(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        digester: TokenDigester,
        role: Role | None,
        policy: str,
        status: int,
    ) -> None:
        await factories.create_registry(session)
        headers, team = await member_of_team(session, digester, role)
        overrides = {"user_permission": {"push_images": {"policy": policy}}}
        async with make_client(**overrides) as client:
            response = await client.post(
                "/api/v1/namespaces", json={"name": "tools", "team": team}, headers=headers
            )
        assert response.status_code == status, response.text
        if status == 201:
            assert response.json()["visibility"] == "private"
            assert response.json()["team"]["name"] == "devs"

    async def test_create_namespace_flag(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        headers, team = await member_of_team(session, digester, Role.owner)
        async with make_client(user_permission={"create_namespace": {"enabled": False}}) as c:
            response = await c.post(
                "/api/v1/namespaces", json={"name": "tools", "team": team}, headers=headers
            )
        assert response.status_code == 403

    async def test_names_are_validated(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        headers, team = await member_of_team(session, digester, Role.owner)
        for bad in ("Tools", "a..b", "-x", "x" * 256):
            response = await client.post(
                "/api/v1/namespaces", json={"name": bad, "team": team}, headers=headers
            )
            assert response.status_code == 422, bad
            assert "name" in response.json()["message"]
        taken = await client.post(
            "/api/v1/namespaces", json={"name": "member", "team": team}, headers=headers
        )
        assert taken.json()["message"] == {"name": ["has already been taken"]}
        check = await client.get("/api/v1/namespaces/validate?name=Bad", headers=headers)
        assert check.json()["valid"] is False
        fine = await client.get("/api/v1/namespaces/validate?name=good-name", headers=headers)
        assert fine.json() == {"valid": True, "messages": {}}
        unknown_team = await client.post(
            "/api/v1/namespaces", json={"name": "tools", "team": "nope"}, headers=headers
        )
        assert unknown_team.status_code == 404


class TestListAndUpdate:
    async def test_list_is_policy_scoped(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session)
        headers, _ = await member_of_team(session, digester, None)
        await factories.create_namespace(
            session, registry, name="open", visibility=Visibility.public
        )
        await factories.create_namespace(session, registry, name="closed")
        names = {
            n["name"]
            for n in (await client.get("/api/v1/namespaces?all=true", headers=headers)).json()
        }
        assert "open" in names
        assert "closed" not in names
        assert "member" in names  # the caller's personal namespace
        assert "lead" not in names  # somebody else's

    async def test_rename_team_change_and_visibility(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        await factories.create_registry(session)
        headers, team = await member_of_team(session, digester, Role.owner)
        created = await client.post(
            "/api/v1/namespaces", json={"name": "tools", "team": team}, headers=headers
        )
        ns_id = created.json()["id"]
        renamed = await client.put(
            f"/api/v1/namespaces/{ns_id}",
            json={"namespace": {"name": "tooling", "visibility": "protected"}},
            headers=headers,
        )
        assert renamed.status_code == 200
        assert (renamed.json()["name"], renamed.json()["visibility"]) == ("tooling", "protected")
        bad = await client.put(
            f"/api/v1/namespaces/{ns_id}",
            json={"namespace": {"visibility": "secret"}},
            headers=headers,
        )
        assert bad.status_code == 422
        # with a repository inside, the name is locked (the registry keeps its paths)
        session.add(Repository(name="app", namespace_id=ns_id))
        await session.flush()
        locked = await client.put(
            f"/api/v1/namespaces/{ns_id}", json={"namespace": {"name": "other"}}, headers=headers
        )
        assert locked.status_code == 422
        assert "cannot be renamed" in locked.json()["message"]["name"][0]

    @pytest.mark.parametrize(
        ("policy", "status"), [("allow-teams", 200), ("allow-personal", 403), ("admin-only", 403)]
    )
    async def test_owners_edit_only_where_they_may_push(
        self,
        session: AsyncSession,
        make_client: ClientFactory,
        digester: TokenDigester,
        policy: str,
        status: int,
    ) -> None:
        """Reference §6.2: namespace update (name, description) is (admin or (manage_namespace
        and owner)) and push?; changing its team needs no push right."""
        registry = await factories.create_registry(session)
        headers, _ = await member_of_team(session, digester, Role.owner)
        team = await session.scalar(select(Team).where(Team.name == "devs"))
        assert team is not None
        ops = Team(name="ops", hidden=False)
        ns = Namespace(name="tools", registry_id=registry.id, team_id=team.id)
        session.add_all([ops, ns])
        await session.flush()
        member = await session.scalar(select(User).where(User.username == "member"))
        assert member is not None
        session.add(TeamUser(team_id=ops.id, user_id=member.id, role=Role.owner))
        await session.flush()
        url = f"/api/v1/namespaces/{ns.id}"
        async with make_client(user_permission={"push_images": {"policy": policy}}) as client:
            described = await client.put(
                url, json={"namespace": {"description": "ours"}}, headers=headers
            )
            renamed = await client.put(
                url, json={"namespace": {"name": "tooling"}}, headers=headers
            )
            moved = await client.put(url, json={"namespace": {"team": "ops"}}, headers=headers)
        assert (described.status_code, renamed.status_code) == (status, status), described.text
        assert moved.status_code == 200, moved.text
        assert moved.json()["team"]["name"] == "ops"

    async def test_viewers_cannot_change_visibility(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session)
        headers, _ = await member_of_team(session, digester, Role.viewer)
        team = await session.scalar(select(Team).where(Team.name == "devs"))
        assert team is not None
        ns = Namespace(name="tools", registry_id=registry.id, team_id=team.id)
        session.add(ns)
        await session.flush()
        response = await client.put(
            f"/api/v1/namespaces/{ns.id}",
            json={"namespace": {"visibility": "public"}},
            headers=headers,
        )
        assert response.status_code == 403


class TestDelete:
    async def _owned_namespace(
        self, session: AsyncSession, digester: TokenDigester, hostname: str
    ) -> tuple[int, dict[str, str]]:
        registry = await factories.create_registry(session, hostname=hostname)
        headers, _ = await member_of_team(session, digester, Role.owner)
        team = await session.scalar(select(Team).where(Team.name == "devs"))
        assert team is not None
        namespace = Namespace(name="tools", registry_id=registry.id, team_id=team.id)
        session.add(namespace)
        await session.flush()
        repository = Repository(name="app", namespace_id=namespace.id)
        session.add(repository)
        await session.flush()
        session.add(Tag(name="1", repository_id=repository.id, digest="sha256:aa"))
        await session.flush()
        return namespace.id, headers

    async def test_registry_failure_keeps_everything(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        ns_id, headers = await self._owned_namespace(session, digester, f"127.0.0.1:{free_port()}")
        response = await client.delete(f"/api/v1/namespaces/{ns_id}", headers=headers)
        assert response.status_code == 502
        assert "retry" in response.json()["message"]
        assert (await client.get(f"/api/v1/namespaces/{ns_id}", headers=headers)).status_code == 200
        repos = await client.get("/api/v1/repositories", headers=headers)
        assert [r["full_name"] for r in repos.json()] == ["tools/app"]
        repo_delete = await client.delete(
            f"/api/v1/repositories/{repos.json()[0]['id']}", headers=headers
        )
        assert repo_delete.status_code == 502

    async def test_global_namespace_and_disabled_delete(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        ns_id, headers = await self._owned_namespace(session, digester, "registry.test:5000")
        admin = await factories.create_user(session, username="root", admin=True)
        admin_headers = await token_headers(session, digester, admin)
        global_ns = await session.scalar(select(Namespace).where(Namespace.global_))
        assert global_ns is not None
        async with make_client() as client:
            refused = await client.delete(
                f"/api/v1/namespaces/{global_ns.id}", headers=admin_headers
            )
            assert refused.status_code == 403
            assert "global namespace" in refused.json()["message"]
        async with make_client(delete={"enabled": False}) as client:
            disabled = await client.delete(f"/api/v1/namespaces/{ns_id}", headers=headers)
            assert disabled.status_code == 403


class TestDisplayName:
    """Portus shows the global namespace as its registry's host, never as its stored name."""

    async def test_global_namespace_is_shown_as_the_registry_host(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        registry = await factories.create_registry(session, "registry.test:5000")
        registry.external_hostname = "registry.example.org"
        team_ns = await factories.create_namespace(session, registry, name="tools")
        global_ns = await session.scalar(select(Namespace).where(Namespace.global_))
        assert global_ns is not None
        global_ns.visibility = Visibility.public
        session.add(Repository(name="busybox", namespace_id=global_ns.id))
        session.add(Repository(name="app", namespace_id=team_ns.id))
        admin = await factories.create_user(session, username="root", admin=True)
        headers = await token_headers(session, digester, admin)
        await session.flush()
        async with make_client() as client:
            listed = await client.get("/api/v1/namespaces", headers=headers)
            one = await client.get(f"/api/v1/namespaces/{global_ns.id}", headers=headers)
            repos = await client.get("/api/v1/repositories", headers=headers)
            by_name = {r["name"]: r for r in repos.json()}
            detail = await client.get(
                f"/api/v1/repositories/{by_name['busybox']['id']}", headers=headers
            )
        names = {ns["name"]: ns["display_name"] for ns in listed.json()}
        assert names[global_ns.name] == "registry.example.org"
        assert names["tools"] == "tools"
        assert one.json()["display_name"] == "registry.example.org"
        assert by_name["busybox"]["namespace"]["display_name"] == "registry.example.org"
        assert by_name["busybox"]["full_name"] == "busybox"
        assert by_name["app"]["namespace"]["display_name"] == "tools"
        assert detail.json()["namespace"]["display_name"] == "registry.example.org"
        assert detail.json()["pull_command"] == "docker pull registry.example.org/busybox"
