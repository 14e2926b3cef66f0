"""What the web UI reads of repositories: the caller's rights on each, a namespace's
repositories, and comments with their authors."""

from __future__ import annotations

import hashlib

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.security import TokenDigester
from app.models import Namespace, Registry, Repository, Role, Tag, User, Visibility
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.support.auth import admin_headers, token_headers
from tests.support.statements import counted_statements


async def _repository(session: AsyncSession, namespace: Namespace, name: str, tags: int = 0) -> int:
    repository = Repository(name=name, namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    for n in range(tags):
        session.add(Tag(name=f"v{n}", repository_id=repository.id, digest=f"sha256:{n}"))
    await session.flush()
    return repository.id


async def _setup(session: AsyncSession) -> tuple[Registry, User, User, Namespace, Namespace]:
    registry = await factories.create_registry(session)
    owner = await factories.create_user(session, username="olivia")
    viewer = await factories.create_user(session, username="victor")
    team = await factories.create_namespace(
        session,
        registry,
        name="team",
        members={owner.id: Role.owner, viewer.id: Role.viewer},
    )
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    return registry, owner, viewer, team, public


async def test_each_repository_carries_the_callers_rights(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    _, owner, viewer, team, public = await _setup(session)
    app_id = await _repository(session, team, "app", 2)
    await _repository(session, public, "web")

    listed = await client.get(
        "/api/v1/repositories", headers=await token_headers(session, digester, viewer)
    )
    rights = {r["full_name"]: r["permissions"] for r in listed.json()}
    assert rights == {
        "team/app": {"role": "viewer", "pull": True, "push": False},
        "open/web": {"role": None, "pull": True, "push": False},
    }
    owner_headers = await token_headers(session, digester, owner)
    shown = await client.get(f"/api/v1/repositories/{app_id}", headers=owner_headers)
    assert shown.json()["permissions"] == {"role": "owner", "pull": True, "push": True}
    starred = await client.post(f"/api/v1/repositories/{app_id}/star", headers=owner_headers)
    assert starred.status_code == 204
    stars = await client.get("/api/v1/repositories/starred", headers=owner_headers)
    assert stars.json()[0]["permissions"] == {"role": "owner", "pull": True, "push": True}
    as_admin = await client.get(
        "/api/v1/repositories", headers=await admin_headers(session, digester)
    )
    assert {r["permissions"]["push"] for r in as_admin.json()} == {True}


async def test_the_push_policy_decides_push(
    session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
) -> None:
    _, owner, _, team, _ = await _setup(session)
    await _repository(session, team, "app")
    headers = await token_headers(session, digester, owner)
    async with make_client(user_permission={"push_images": {"policy": "admin-only"}}) as client:
        listed = await client.get("/api/v1/repositories", headers=headers)
    assert listed.json()[0]["permissions"] == {"role": "owner", "pull": True, "push": False}


async def test_a_page_costs_the_same_statements_for_many_rows(
    session: AsyncSession,
    connection: AsyncConnection,
    client: httpx.AsyncClient,
    digester: TokenDigester,
) -> None:
    registry, owner, _, team, _ = await _setup(session)
    headers = await token_headers(session, digester, owner)

    async def statements(path: str) -> int:
        with counted_statements(connection) as seen:
            response = await client.get(path, headers=headers)
        assert response.status_code == 200
        return len(seen)

    await _repository(session, team, "a0", 1)
    few = await statements("/api/v1/repositories")
    few_nested = await statements(f"/api/v1/namespaces/{team.id}/repositories")
    for n in range(6):
        namespace = await factories.create_namespace(
            session, registry, members={owner.id: Role.contributor}
        )
        await _repository(session, namespace, f"b{n}", 2)
        await _repository(session, team, f"a{n + 1}", 1)
    assert await statements("/api/v1/repositories") == few
    assert await statements(f"/api/v1/namespaces/{team.id}/repositories") == few_nested


class TestNamespaceRepositories:
    async def test_paged_like_the_flat_list(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        _, _, viewer, team, public = await _setup(session)
        for name in ("c", "a", "b"):
            await _repository(session, team, name, 1)
        await _repository(session, public, "elsewhere")
        headers = await token_headers(session, digester, viewer)
        path = f"/api/v1/namespaces/{team.id}/repositories"
        first = await client.get(path, params={"per_page": 2, "sort_attr": "name"}, headers=headers)
        assert first.status_code == 200, first.text
        assert [r["full_name"] for r in first.json()] == ["team/a", "team/b"]
        assert first.headers["X-Total"] == "3"
        assert first.json()[0]["permissions"]["role"] == "viewer"
        # the Link's cursor reads on from where the page ended
        cursor = first.links["next"]["url"]
        following = await client.get(cursor, headers=headers)
        assert [r["full_name"] for r in following.json()] == ["team/c"]
        page_two = await client.get(
            path, params={"per_page": 2, "page": 2, "sort_attr": "name"}, headers=headers
        )
        assert [r["full_name"] for r in page_two.json()] == ["team/c"]

    async def test_visibility_as_for_the_namespace(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        _, _, _, team, public = await _setup(session)
        await _repository(session, team, "app")
        await _repository(session, public, "web")
        stranger = await factories.create_user(session, username="sam")
        headers = await token_headers(session, digester, stranger)
        hidden = await client.get(f"/api/v1/namespaces/{team.id}/repositories", headers=headers)
        assert hidden.status_code == 404
        assert hidden.json() == {"message": "Not found: no such namespace"}
        shown = await client.get(f"/api/v1/namespaces/{public.id}/repositories", headers=headers)
        assert [r["full_name"] for r in shown.json()] == ["open/web"]
        assert (await client.get(f"/api/v1/namespaces/{public.id}/repositories")).status_code == 401
        missing = await client.get("/api/v1/namespaces/99999999/repositories", headers=headers)
        assert missing.status_code == 404

    async def test_bad_input(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        _, _, viewer, team, _ = await _setup(session)
        headers = await token_headers(session, digester, viewer)
        for path, field, status in (
            ("/api/v1/namespaces/x/repositories", "namespace_id", 400),  # not an integer
            (f"/api/v1/namespaces/{team.id}/repositories?sort_attr=size", "sort_attr", 422),
            (f"/api/v1/namespaces/{team.id}/repositories?after=zzz", "after", 422),
            (f"/api/v1/namespaces/{team.id}/repositories?after=abc&all=true", "after", 422),
        ):
            response = await client.get(path, headers=headers)
            assert response.status_code == status, (path, response.text)
            assert field in response.json()["message"], (path, response.text)


class TestComments:
    async def test_authors_avatars_and_who_may_delete(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        _, owner, viewer, team, _ = await _setup(session)
        repo_id = await _repository(session, team, "app")
        viewer_h = await token_headers(session, digester, viewer)
        owner_h = await token_headers(session, digester, owner)
        made = await client.post(
            f"/api/v1/repositories/{repo_id}/comments", json={"body": "nice"}, headers=viewer_h
        )
        assert made.status_code == 201, made.text
        assert viewer.email is not None
        digest = hashlib.md5(viewer.email.encode(), usedforsecurity=False).hexdigest()
        author = {
            "id": viewer.id,
            "name": "victor",
            "avatar_url": f"https://www.gravatar.com/avatar/{digest}?d=identicon",
        }
        assert made.json()["author"] == author
        assert made.json()["destroyable"] is True
        await client.post(
            f"/api/v1/repositories/{repo_id}/comments", json={"body": "thanks"}, headers=owner_h
        )
        as_owner = (
            await client.get(f"/api/v1/repositories/{repo_id}/comments", headers=owner_h)
        ).json()
        assert [(c["author"]["name"], c["destroyable"]) for c in as_owner] == [
            ("victor", False),  # another's comment: only its author and admins
            ("olivia", True),
        ]
        as_admin = (
            await client.get(
                f"/api/v1/repositories/{repo_id}/comments",
                headers=await admin_headers(session, digester),
            )
        ).json()
        assert [c["destroyable"] for c in as_admin] == [True, True]

    async def test_display_names_and_no_gravatar(
        self, session: AsyncSession, make_client: ClientFactory, digester: TokenDigester
    ) -> None:
        _, _, viewer, team, _ = await _setup(session)
        viewer.display_name = "Victor V."
        await session.flush()
        repo_id = await _repository(session, team, "app")
        headers = await token_headers(session, digester, viewer)
        overrides = {"display_name": {"enabled": True}, "gravatar": {"enabled": False}}
        async with make_client(**overrides) as client:
            await client.post(
                f"/api/v1/repositories/{repo_id}/comments", json={"body": "hi"}, headers=headers
            )
            listed = await client.get(f"/api/v1/repositories/{repo_id}/comments", headers=headers)
        assert listed.json()[0]["author"] == {
            "id": viewer.id,
            "name": "Victor V.",
            "avatar_url": None,
        }

    async def test_a_deleted_authors_comment_stays_without_author(
        self, session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
    ) -> None:
        _, owner, viewer, team, _ = await _setup(session)
        repo_id = await _repository(session, team, "app")
        await client.post(
            f"/api/v1/repositories/{repo_id}/comments",
            json={"body": "bye"},
            headers=await token_headers(session, digester, viewer),
        )
        admin = await admin_headers(session, digester)
        assert (await client.delete(f"/api/v1/users/{viewer.id}", headers=admin)).status_code == 204
        listed = await client.get(
            f"/api/v1/repositories/{repo_id}/comments",
            headers=await token_headers(session, digester, owner),
        )
        assert listed.json()[0]["author"] is None
        assert listed.json()[0]["body"] == "bye"


async def test_the_description_flag_the_tags_repository_and_anonymous_comments(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    """`updatable` follows who may edit the description; a tag names its repository; the
    comments of a public repository are readable by an anonymous visitor, those of a private
    one are not found."""
    _, owner, viewer, team, public = await _setup(session)
    app_id = await _repository(session, team, "app", 1)
    web_id = await _repository(session, public, "web")
    owner_headers = await token_headers(session, digester, owner)
    viewer_headers = await token_headers(session, digester, viewer)

    as_owner = await client.get(f"/api/v1/repositories/{app_id}", headers=owner_headers)
    as_viewer = await client.get(f"/api/v1/repositories/{app_id}", headers=viewer_headers)
    assert (as_owner.json()["updatable"], as_viewer.json()["updatable"]) == (True, False)
    refused = await client.put(
        f"/api/v1/repositories/{app_id}",
        json={"repository": {"description": "x"}},
        headers=viewer_headers,
    )
    assert refused.status_code == 403

    tags = await client.get(f"/api/v1/repositories/{app_id}/tags", headers=viewer_headers)
    assert [tag["repository_id"] for tag in tags.json()] == [app_id]

    said = await client.post(
        f"/api/v1/repositories/{web_id}/comments", json={"body": "hello"}, headers=owner_headers
    )
    assert said.status_code == 201
    anonymous = await client.get(f"/api/v1/repositories/{web_id}/comments")
    assert anonymous.status_code == 200
    assert [c["body"] for c in anonymous.json()] == ["hello"]
    assert anonymous.json()[0]["destroyable"] is False
    hidden = await client.get(f"/api/v1/repositories/{app_id}/comments")
    assert hidden.status_code == 404
