from __future__ import annotations

import csv
import io

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.activities import service as activities
from app.activities.endpoints import _cell
from app.core.security import TokenDigester
from app.models import Activity, Repository, Role, Tag, Visibility
from tests.fixtures import factories
from tests.support.auth import token_headers
from tests.support.statements import counted_statements


async def test_feed_shows_only_what_the_caller_may_see(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    bob = await factories.create_user(session, username="bob")
    secret = await factories.create_namespace(session, registry, name="secret")
    shared = await factories.create_namespace(
        session, registry, name="shared", members={alice.id: Role.viewer}
    )
    public = await factories.create_namespace(
        session, registry, name="open", visibility=Visibility.public
    )
    for namespace in (secret, shared, public):
        repository = Repository(name="app", namespace_id=namespace.id)
        session.add(repository)
        await session.flush()
        activities.record(
            session,
            "repository.push",
            trackable_type="Repository",
            trackable_id=repository.id,
            owner_id=bob.id,
            parameters={"namespace": namespace.name},
        )
    await session.flush()
    headers = await token_headers(session, digester, alice)
    feed = await client.get("/api/v1/activities/feed?all=true", headers=headers)
    assert feed.status_code == 200
    pushes = [a for a in feed.json() if a["key"] == "repository.push"]
    assert sorted(a["parameters"]["namespace"] for a in pushes) == ["open", "shared"]
    assert {a["owner_name"] for a in pushes} == {"bob"}
    # the full list is for administrators
    assert (await client.get("/api/v1/activities", headers=headers)).status_code == 403


async def test_admin_list_filters_and_csv(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    admin = await factories.create_user(session, username="root", admin=True)
    activities.record(
        session,
        "team.create",
        trackable_type="Team",
        trackable_id=1,
        owner_id=admin.id,
        parameters={"team": "=cmd|' /C calc'!A0"},
    )
    await session.flush()
    headers = await token_headers(session, digester, admin)
    listed = await client.get("/api/v1/activities?key=team.create&owner=root", headers=headers)
    assert [a["key"] for a in listed.json()] == ["team.create"]
    none = await client.get("/api/v1/activities?owner=nobody", headers=headers)
    assert none.json() == []
    bad = await client.get("/api/v1/activities?since=yesterday", headers=headers)
    assert bad.status_code == 422
    exported = await client.get("/api/v1/activities/export.csv?key=team.create", headers=headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:4] == ["id", "created_at", "key", "owner"]
    assert rows[1][2:4] == ["team.create", "root"]


def test_csv_cells_are_never_formulas() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@SUM(1)") == "'@SUM(1)"
    assert _cell("alice") == "alice"


async def test_the_feed_covers_the_newest_thousand(
    session: AsyncSession, client: httpx.AsyncClient, digester: TokenDigester
) -> None:
    alice = await factories.create_user(session, username="alice")
    session.add_all(
        Activity(
            key="application_token.create",
            trackable_type="User",
            trackable_id=alice.id,
            owner_id=alice.id,
            parameters={"n": n},
        )
        for n in range(1005)
    )
    await session.flush()
    headers = await token_headers(session, digester, alice)
    first = await client.get("/api/v1/activities/feed?per_page=100", headers=headers)
    assert first.headers["X-Total"] == "1000"
    assert first.headers["X-Total-Pages"] == "10"
    last = await client.get("/api/v1/activities/feed?per_page=100&page=10", headers=headers)
    assert len(last.json()) == 100
    beyond = await client.get("/api/v1/activities/feed?per_page=100&page=11", headers=headers)
    assert beyond.json() == []
    everything = await client.get("/api/v1/activities/feed?all=true", headers=headers)
    assert len(everything.json()) == 1000


async def test_activities_carry_the_names_of_what_they_are_about(
    session: AsyncSession,
    client: httpx.AsyncClient,
    digester: TokenDigester,
    connection: AsyncConnection,
) -> None:
    """A push names its repository and its tag; a deleted object has no name; a page costs a
    query per kind of object, not per activity."""
    registry = await factories.create_registry(session)
    admin = await factories.create_user(session, username="root", admin=True)
    namespace = await factories.create_namespace(session, registry, name="team")
    repository = Repository(name="app", namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    tags = [Tag(name=f"v{n}", repository_id=repository.id, digest=f"sha256:{n}") for n in (1, 2)]
    session.add_all(tags)
    await session.flush()
    for tag in tags:
        activities.record(
            session,
            "repository.push",
            trackable_type="Repository",
            trackable_id=repository.id,
            owner_id=admin.id,
            recipient_type="Tag",
            recipient_id=tag.id,
        )
    activities.record(
        session, "team.create", trackable_type="Team", trackable_id=999_999, owner_id=admin.id
    )
    await session.flush()
    headers = await token_headers(session, digester, admin)
    with counted_statements(connection) as few:
        listed = await client.get("/api/v1/activities?all=true", headers=headers)
    assert listed.status_code == 200
    named = sorted(
        (a["key"], a["trackable_name"], a["recipient_name"])
        for a in listed.json()
        if a["key"] == "repository.push" or a["trackable_id"] == 999_999
    )
    assert named == [
        ("repository.push", "team/app", "team/app:v1"),
        ("repository.push", "team/app", "team/app:v2"),
        ("team.create", None, None),
    ]
    for n in range(3, 9):
        tag = Tag(name=f"v{n}", repository_id=repository.id, digest=f"sha256:{n}")
        session.add(tag)
        await session.flush()
        activities.record(
            session,
            "repository.push",
            trackable_type="Repository",
            trackable_id=repository.id,
            owner_id=admin.id,
            recipient_type="Tag",
            recipient_id=tag.id,
        )
    await session.flush()
    with counted_statements(connection) as many:
        assert (await client.get("/api/v1/activities?all=true", headers=headers)).status_code == 200
    assert len(many) == len(few)
