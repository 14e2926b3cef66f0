"""What the web UI reads of a namespace: the caller's rights (from the policy) and the counts,
computed for a whole page at once; and a team's namespaces."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.authz.principal import Principal, PrincipalKind
from app.core.config import Settings
from app.core.security import TokenDigester
from app.models import Namespace, Registry, Repository, Role, Team, User, Visibility, Webhook
from app.namespaces import service as namespaces
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import admin_headers, token_headers
from tests.support.statements import counted_statements


async def _repositories(session: AsyncSession, namespace: Namespace, *names: str) -> None:
    for name in names:
        session.add(Repository(name=name, namespace_id=namespace.id))
    await session.flush()


async def _webhook(session: AsyncSession, namespace: Namespace) -> None:
    session.add(
        Webhook(namespace_id=namespace.id, name="ci", url="http://ci/", secret_encrypted="-")
    )
    await session.flush()


async def _people(session: AsyncSession) -> tuple[Registry, User, User, User]:
    registry = await factories.create_registry(session)
    owner = await factories.create_user(session, username="olivia")
    viewer = await factories.create_user(session, username="victor")
    stranger = await factories.create_user(session, username="sam")
    return registry, owner, viewer, stranger


def _by_name(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in body}


async def test_flags_and_counts_per_caller(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry, owner, viewer, stranger = await _people(session)
    tools = await factories.create_namespace(
        session,
        registry,
        name="tools",
        visibility=Visibility.protected,
        members={owner.id: Role.owner, viewer.id: Role.viewer},
    )
    await _repositories(session, tools, "app", "db")
    await _webhook(session, tools)

    as_owner = await client.get(
        f"/api/v1/namespaces/{tools.id}", headers=await token_headers(session, digester, owner)
    )
    assert as_owner.status_code == 200, as_owner.text
    body = as_owner.json()
    assert body["repositories_count"] == 2
    assert body["webhooks_count"] == 1
    assert body["permissions"] == {
        "role": "owner",
        "pull": True,
        "push": True,
        "webhooks": True,
        "visibility": True,
    }
    assert (body["updatable"], body["destroyable"]) == (True, True)

    listed = await client.get(
        "/api/v1/namespaces", headers=await token_headers(session, digester, viewer)
    )
    as_viewer = _by_name(listed.json())["tools"]
    assert as_viewer["permissions"] == {
        "role": "viewer",
        "pull": True,
        "push": False,
        "webhooks": True,
        "visibility": False,
    }
    assert (as_viewer["updatable"], as_viewer["destroyable"]) == (False, False)
    assert as_viewer["webhooks_count"] == 1

    listed = await client.get(
        "/api/v1/namespaces", headers=await token_headers(session, digester, stranger)
    )
    as_stranger = _by_name(listed.json())["tools"]  # protected: any signed-in user pulls
    assert as_stranger["permissions"] == {
        "role": None,
        "pull": True,
        "push": False,
        "webhooks": False,
        "visibility": False,
    }
    assert as_stranger["repositories_count"] == 2
    assert as_stranger["webhooks_count"] is None  # not theirs to know


async def test_personal_and_global_namespaces_are_never_destroyable(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    listed = await client.get(
        "/api/v1/namespaces", params={"all": "true"}, headers=await admin_headers(session, digester)
    )
    rows = _by_name(listed.json())
    assert rows["alice"]["destroyable"] is False  # personal
    assert rows["alice"]["permissions"]["role"] is None  # the admin is no member
    assert rows["alice"]["permissions"]["push"] is True  # but pushes everywhere
    global_ = next(row for row in listed.json() if row["global"])
    assert global_["destroyable"] is False
    assert global_["updatable"] is True
    own = await client.get(
        f"/api/v1/namespaces/{alice.namespace_id}",
        headers=await token_headers(session, digester, alice),
    )
    assert own.json()["permissions"]["role"] == "owner"
    assert own.json()["destroyable"] is False


async def test_settings_change_the_flags(
    session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
) -> None:
    registry, owner, _, _ = await _people(session)
    tools = await factories.create_namespace(
        session, registry, name="tools", members={owner.id: Role.owner}
    )
    headers = await token_headers(session, digester, owner)
    overrides = {
        "delete": {"enabled": False},
        "user_permission": {"change_visibility": {"enabled": False}},
    }
    async with make_client(**overrides) as client:
        body = (await client.get(f"/api/v1/namespaces/{tools.id}", headers=headers)).json()
    assert body["destroyable"] is False
    assert body["permissions"]["visibility"] is False
    assert body["updatable"] is True


async def test_the_list_runs_as_many_statements_for_many_rows_as_for_few(
    session: AsyncSession,
    connection: AsyncConnection,
    client: httpx.AsyncClient,
    digester: TokenDigester,
) -> None:
    registry, owner, _, _ = await _people(session)
    headers = await token_headers(session, digester, owner)

    async def statements() -> int:
        with counted_statements(connection) as seen:
            response = await client.get("/api/v1/namespaces", headers=headers)
        assert response.status_code == 200
        return len(seen)

    for _ in range(2):
        ns = await factories.create_namespace(session, registry, members={owner.id: Role.owner})
        await _repositories(session, ns, "a", "b")
    few = await statements()
    for _ in range(6):
        ns = await factories.create_namespace(session, registry, members={owner.id: Role.owner})
        await _repositories(session, ns, "a")
        await _webhook(session, ns)
    many = await statements()
    assert many == few


class TestTeamNamespaces:
    async def _team(
        self, session: AsyncSession, registry: Registry, owner: User, count: int
    ) -> tuple[Team, list[Namespace]]:
        first = await factories.create_namespace(
            session, registry, name="team-a", members={owner.id: Role.owner}
        )
        team = await session.get(Team, first.team_id)
        assert team is not None
        team.name = "devs"
        namespaces = [first]
        for n in range(1, count):
            namespace = Namespace(
                name=f"team-{chr(ord('a') + n)}", registry_id=registry.id, team_id=team.id
            )
            session.add(namespace)
            namespaces.append(namespace)
        await session.flush()
        return team, namespaces

    async def test_members_and_admins_list_them_paged(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry, owner, _, _ = await _people(session)
        team, namespaces = await self._team(session, registry, owner, 3)
        await _repositories(session, namespaces[1], "app")
        # another team's namespace stays out
        await factories.create_namespace(session, registry, members={owner.id: Role.owner})
        headers = await token_headers(session, digester, owner)
        first = await client.get(
            f"/api/v1/teams/{team.id}/namespaces", params={"per_page": 2}, headers=headers
        )
        assert first.status_code == 200, first.text
        assert [n["name"] for n in first.json()] == ["team-a", "team-b"]
        assert first.headers["X-Total"] == "3"
        assert first.headers["X-Next-Page"] == "2"
        assert first.json()[1]["repositories_count"] == 1
        assert first.json()[0]["permissions"]["role"] == "owner"
        second = await client.get(
            f"/api/v1/teams/{team.id}/namespaces",
            params={"per_page": 2, "page": 2},
            headers=headers,
        )
        assert [n["name"] for n in second.json()] == ["team-c"]
        by_admin = await client.get(
            f"/api/v1/teams/{team.id}/namespaces",
            params={"sort_attr": "name", "sort_order": "desc"},
            headers=await admin_headers(session, digester),
        )
        assert [n["name"] for n in by_admin.json()] == ["team-c", "team-b", "team-a"]

    async def test_others_get_a_404(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        registry, owner, _, stranger = await _people(session)
        team, namespaces = await self._team(session, registry, owner, 1)
        namespaces[0].visibility = Visibility.public  # a public namespace: its team stays hidden
        await session.flush()
        headers = await token_headers(session, digester, stranger)
        response = await client.get(f"/api/v1/teams/{team.id}/namespaces", headers=headers)
        assert response.status_code == 404
        assert response.json() == {"message": "Not found: no such team"}
        # a personal (hidden) team is nobody's to list, its owner's included
        alice = await factories.create_user(session, username="alice")
        personal = await session.get(Namespace, alice.namespace_id)
        assert personal is not None
        response = await client.get(
            f"/api/v1/teams/{personal.team_id}/namespaces",
            headers=await token_headers(session, digester, alice),
        )
        assert response.status_code == 404

    @pytest.mark.parametrize(
        ("path", "field", "status"),
        [
            ("/api/v1/teams/abc/namespaces", "team_id", 400),  # not an integer
            ("/api/v1/teams/1/namespaces?per_page=0", "per_page", 422),
            ("/api/v1/teams/1/namespaces?sort_attr=stars", "sort_attr", 422),
        ],
    )
    async def test_bad_input_names_the_problem(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        digester: TokenDigester,
        path: str,
        field: str,
        status: int,
    ) -> None:
        headers = await admin_headers(session, digester)
        team = Team(name="devs")
        session.add(team)
        await session.flush()
        response = await client.get(path.replace("/1/", f"/{team.id}/"), headers=headers)
        assert response.status_code == status
        assert field in response.json()["message"]


async def test_a_namespace_deleted_after_its_page_was_read_is_left_out(
    session: AsyncSession, settings: Settings
) -> None:
    """A GET reads without a transaction: a row of the page may be gone when its facts are
    read. It is left out rather than failing the request."""
    registry = await factories.create_registry(session)
    kept = await factories.create_namespace(session, registry, name="kept")
    team = await session.get(Team, kept.team_id)
    assert team is not None
    gone = Namespace(id=kept.id + 1000, name="gone", registry_id=registry.id, team_id=team.id)
    admin = Principal(PrincipalKind.user, user_id=1, admin=True)
    views = await namespaces.views(session, settings, admin, [(kept, team), (gone, team)])
    assert [view.namespace.name for view in views] == ["kept"]
