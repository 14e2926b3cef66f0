from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Repository, Role, Tag, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import portus_auth, token_headers
from tests.support.tools import free_port


async def add_repository(session: AsyncSession, namespace: Namespace, name: str, tags: int) -> int:
    repository = Repository(name=name, namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    for n in range(tags):
        session.add(Tag(name=f"v{n}", repository_id=repository.id, digest=f"sha256:{n}"))
    await session.flush()
    return repository.id


async def test_lists_only_what_the_caller_may_pull(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    admin = await factories.create_user(session, username="root", admin=True)
    private = await factories.create_namespace(
        session, registry, name="secret", members={bob.id: Role.viewer}
    )
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    secret_id = await add_repository(session, private, "app", 2)
    await add_repository(session, public, "web", 3)

    alice_h = await token_headers(session, digester, alice)
    bob_h = await token_headers(session, digester, bob)
    admin_h = await token_headers(session, digester, admin)

    seen_by_alice = (await client.get("/api/v1/repositories", headers=alice_h)).json()
    assert [(r["full_name"], r["tags_count"]) for r in seen_by_alice] == [("open/web", 3)]
    seen_by_bob = (await client.get("/api/v1/repositories", headers=bob_h)).json()
    assert {r["full_name"] for r in seen_by_bob} == {"secret/app", "open/web"}
    all_repos = await client.get("/api/v1/repositories?all=true", headers=admin_h)
    assert all_repos.headers["X-Total"] == "2"

    tags = await client.get(f"/api/v1/repositories/{secret_id}/tags", headers=bob_h)
    assert sorted(t["name"] for t in tags.json()) == ["v0", "v1"]
    hidden = await client.get(f"/api/v1/repositories/{secret_id}/tags", headers=alice_h)
    assert hidden.status_code == 404
    assert (await client.get("/api/v1/repositories")).status_code == 401


class TestTagDelete:
    async def _setup(
        self, session: AsyncSession, digester: TokenDigester, role: Role
    ) -> tuple[int, dict[str, str]]:
        # A registry nobody answers for: the delete reaches it and fails.
        registry = await factories.create_registry(session, hostname=f"127.0.0.1:{free_port()}")
        member = await factories.create_user(session, username="member")
        namespace = await factories.create_namespace(
            session, registry, name="team", members={member.id: role}
        )
        repository_id = await add_repository(session, namespace, "app", 1)
        tag_id = await session.scalar(select(Tag.id).where(Tag.repository_id == repository_id))
        assert tag_id is not None
        token = await factories.create_token(session, digester, member)
        return tag_id, portus_auth("member", token)

    async def test_registry_failure_is_502_and_changes_nothing(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        tag_id, headers = await self._setup(session, digester, Role.owner)
        response = await client.delete(f"/api/v1/tags/{tag_id}", headers=headers)
        assert response.status_code == 502
        assert "registry" in response.json()["message"]
        assert await session.scalar(select(func.count(Tag.id)).where(Tag.id == tag_id)) == 1

    async def test_contributors_need_the_flag(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        tag_id, headers = await self._setup(session, digester, Role.contributor)
        async with make_client() as client:
            refused = await client.delete(f"/api/v1/tags/{tag_id}", headers=headers)
        assert refused.status_code == 403
        async with make_client(delete={"contributors": True}) as client:
            allowed = await client.delete(f"/api/v1/tags/{tag_id}", headers=headers)
        assert allowed.status_code == 502  # allowed: it got as far as the (absent) registry

    async def test_delete_disabled(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        tag_id, headers = await self._setup(session, digester, Role.owner)
        async with make_client(delete={"enabled": False}) as client:
            response = await client.delete(f"/api/v1/tags/{tag_id}", headers=headers)
        assert response.status_code == 403
        assert "delete.enabled" in response.json()["message"]

    async def test_invisible_tags_are_404(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        tag_id, _ = await self._setup(session, digester, Role.owner)
        stranger = await factories.create_user(session, username="stranger")
        token = await factories.create_token(session, digester, stranger)
        response = await client.delete(
            f"/api/v1/tags/{tag_id}", headers=portus_auth("stranger", token)
        )
        assert response.status_code == 404


class TestRepositoryDetails:
    async def _setup(
        self, session: AsyncSession, digester: TokenDigester
    ) -> tuple[int, dict[str, str], dict[str, str]]:
        registry = await factories.create_registry(session)
        registry.external_hostname = "registry.example.org"
        owner = await factories.create_user(session, username="owner")
        viewer = await factories.create_user(session, username="viewer")
        namespace = await factories.create_namespace(
            session, registry, name="team", members={owner.id: Role.owner, viewer.id: Role.viewer}
        )
        repository_id = await add_repository(session, namespace, "app", 3)
        # two of the three tags share an image
        tags = (await session.scalars(select(Tag).where(Tag.repository_id == repository_id))).all()
        tags[1].digest = tags[0].digest
        await session.flush()

        return (
            repository_id,
            await token_headers(session, digester, owner),
            await token_headers(session, digester, viewer),
        )

    async def test_show_update_star(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        repo_id, owner, viewer = await self._setup(session, digester)
        shown = (await client.get(f"/api/v1/repositories/{repo_id}", headers=viewer)).json()
        assert shown["pull_command"] == "docker pull registry.example.org/team/app"
        assert (shown["tags_count"], shown["stars"], shown["starred"]) == (3, 0, False)
        assert shown["destroyable"] is False
        assert (await client.get(f"/api/v1/repositories/{repo_id}", headers=owner)).json()[
            "destroyable"
        ] is True
        # viewers cannot edit the description; owners can
        body = {"repository": {"description": "# App"}}
        refused = await client.put(f"/api/v1/repositories/{repo_id}", json=body, headers=viewer)
        assert refused.status_code == 403
        edited = await client.put(f"/api/v1/repositories/{repo_id}", json=body, headers=owner)
        assert edited.json()["description"] == "# App"
        # stars: idempotent, counted, listed
        for _ in range(2):
            starred = await client.post(f"/api/v1/repositories/{repo_id}/star", headers=viewer)
            assert starred.status_code == 204
        shown = (await client.get(f"/api/v1/repositories/{repo_id}", headers=viewer)).json()
        assert (shown["stars"], shown["starred"]) == (1, True)
        mine = await client.get("/api/v1/repositories/starred", headers=viewer)
        assert [r["full_name"] for r in mine.json()] == ["team/app"]
        await client.delete(f"/api/v1/repositories/{repo_id}/star", headers=viewer)
        assert (await client.get("/api/v1/repositories/starred", headers=viewer)).json() == []

    async def test_comments(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        repo_id, owner, viewer = await self._setup(session, digester)
        made = await client.post(
            f"/api/v1/repositories/{repo_id}/comments", json={"body": "nice"}, headers=viewer
        )
        assert made.status_code == 201
        comment_id = made.json()["id"]
        listed = await client.get(f"/api/v1/repositories/{repo_id}/comments", headers=owner)
        assert [c["body"] for c in listed.json()] == ["nice"]
        # the owner of the namespace is not the comment's author
        refused = await client.delete(
            f"/api/v1/repositories/{repo_id}/comments/{comment_id}", headers=owner
        )
        assert refused.status_code == 403
        deleted = await client.delete(
            f"/api/v1/repositories/{repo_id}/comments/{comment_id}", headers=viewer
        )
        assert deleted.status_code == 204
        empty = await client.post(
            f"/api/v1/repositories/{repo_id}/comments", json={"body": ""}, headers=viewer
        )
        assert empty.status_code == 422

    async def test_tags_grouped_by_image_and_shown(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        repo_id, _, viewer = await self._setup(session, digester)
        grouped = await client.get(f"/api/v1/repositories/{repo_id}/tags/grouped", headers=viewer)
        sizes = sorted(len(group) for group in grouped.json())
        assert sizes == [1, 2]
        assert all(len({t["digest"] for t in group}) == 1 for group in grouped.json())
        tag_id = grouped.json()[0][0]["id"]
        shown = await client.get(f"/api/v1/tags/{tag_id}", headers=viewer)
        assert shown.status_code == 200
        assert shown.json()["id"] == tag_id


async def test_tags_list_is_for_admins(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    namespace = await factories.create_namespace(session, registry, name="team")
    await add_repository(session, namespace, "app", 3)
    admin = await factories.create_user(session, username="root", admin=True)
    alice = await factories.create_user(session, username="alice")
    admin_h = await token_headers(session, digester, admin)
    alice_h = await token_headers(session, digester, alice)
    listed = await client.get("/api/v1/tags?per_page=2&sort_attr=name", headers=admin_h)
    assert [t["name"] for t in listed.json()] == ["v0", "v1"]
    assert listed.headers["X-Total"] == "3"
    assert (await client.get("/api/v1/tags", headers=alice_h)).status_code == 403


async def test_anonymous_browsing_shows_public_repositories_only(
    session: AsyncSession, make_client: ClientFactory
) -> None:
    registry = await factories.create_registry(session)
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    protected = await factories.create_namespace(
        session, registry, name="inside", visibility=Visibility.protected
    )
    public_id = await add_repository(session, public, "web", 3)
    protected_id = await add_repository(session, protected, "app", 1)
    async with make_client() as client:  # anonymous_browsing is on by default (Portus)
        shown = await client.get(f"/api/v1/repositories/{public_id}")
        assert shown.status_code == 200
        assert shown.json()["starred"] is False
        assert shown.json()["destroyable"] is False
        tags = await client.get(f"/api/v1/repositories/{public_id}/tags")
        assert sorted(t["name"] for t in tags.json()) == ["v0", "v1", "v2"]
        grouped = await client.get(f"/api/v1/repositories/{public_id}/tags/grouped")
        assert len(grouped.json()) == 3
        # protected means "every signed-in user", not visitors
        assert (await client.get(f"/api/v1/repositories/{protected_id}")).status_code == 404
        assert (await client.get(f"/api/v1/repositories/{protected_id}/tags")).status_code == 404
        # browsing is reading: changes still need a user
        assert (await client.post(f"/api/v1/repositories/{public_id}/star")).status_code == 401
    async with make_client(anonymous_browsing={"enabled": False}) as client:
        assert (await client.get(f"/api/v1/repositories/{public_id}")).status_code == 401
