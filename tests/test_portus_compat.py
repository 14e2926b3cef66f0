"""Portus 2.4's API behaviour that clients of Portus (portusctl, scripts, registries) rely on,
one test per behaviour. Each docstring cites what Portus does: its Grape API (`lib/api/...`),
its token controller, or the reference notes (/work/shared/reference/portus-2.4.md, "ref").
Where we differ on purpose, the README's "Differences from Portus" says so and why."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.security import TokenDigester
from app.models import Activity, MailMessage, Namespace, Repository, Role, Tag, User
from tests.conftest import ClientFactory
from tests.fixtures import factories
from tests.fixtures.factories import PASSWORD
from tests.fixtures.jwt import access
from tests.support.auth import basic, new_user_and_headers, token_headers

JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def mail_client(make_client: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(
        email={"smtp": {"enabled": True}}, public_url="https://portus.example.org"
    ) as client:
        yield client


async def _admin(session: AsyncSession, digester: TokenDigester) -> tuple[User, dict[str, str]]:
    return await new_user_and_headers(session, digester, username="root", admin=True)


async def _repository_with_tag(
    session: AsyncSession, namespace: Namespace, name: str = "app"
) -> tuple[Repository, Tag]:
    repository = Repository(name=name, namespace_id=namespace.id)
    session.add(repository)
    await session.flush()
    tag = Tag(name="latest", repository_id=repository.id, digest="sha256:1")
    session.add(tag)
    await session.flush()
    return repository, tag


# --- 1. application tokens ------------------------------------------------------------------------
async def test_an_admin_creates_an_application_token_for_any_user(
    session: AsyncSession, digester: TokenDigester, mail_client: httpx.AsyncClient
) -> None:
    """Portus 2.4 `POST /api/v1/users/:id/application_tokens` lets an administrator create a
    token for any user (ref §5). The creation is an activity (ref §7 "Create/destroy are
    recorded as activities"), and the user is told by mail. Portus checked no owner at all
    (ref §10 "security quirks to avoid"): anybody else still creates tokens for themself only."""
    admin, headers = await _admin(session, digester)
    person, own_headers = await new_user_and_headers(
        session, digester, username="alice", email="alice@example.com"
    )
    response = await mail_client.post(
        f"/api/v1/users/{person.id}/application_tokens",
        json={"application": "laptop"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["application"] == "laptop"
    assert response.json()["plain_token"]
    activity = await session.scalar(
        select(Activity).where(Activity.key == "application_token.create")
    )
    assert activity is not None
    assert (activity.trackable_id, activity.owner_id) == (person.id, admin.id)
    mail = await session.scalar(select(MailMessage).where(MailMessage.kind == "token_created"))
    assert mail is not None
    assert mail.recipient == "alice@example.com"
    assert "by the administrator root" in mail.text_body
    not_hers = await mail_client.post(
        f"/api/v1/users/{admin.id}/application_tokens",
        json={"application": "x"},
        headers=own_headers,
    )
    assert not_hers.status_code == 403


# --- 2. parameter validation ---------------------------------------------------------------------
async def test_malformed_json_is_a_400_that_says_so(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's root API rescues `Grape::Exceptions::InvalidMessageBody` with a 400
    (`lib/api/root_api.rb`)."""
    _, headers = await _admin(session, digester)
    response = await client.post("/api/v1/teams", content=b'{"name": ', headers={**headers, **JSON})
    assert response.status_code == 400
    assert "malformed JSON" in response.json()["message"]


async def test_a_missing_parameter_is_a_400_naming_it(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus declares `requires :user, type: Hash do requires :email ...` (`lib/api/v1/
    users.rb`) and answers Grape's `ValidationErrors` with a 400: "user[email] is missing"."""
    _, headers = await _admin(session, digester)
    response = await client.post(
        "/api/v1/users",
        json={"user": {"username": "bob", "password": PASSWORD}},
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json() == {"message": "user[email] is missing"}


async def test_a_wrongly_typed_parameter_is_a_400_naming_it_and_a_bad_value_a_422(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus declares `optional :owner_id, type: Integer` (`lib/api/v1/teams.rb`): a value
    that is not one is Grape's "owner_id is invalid", a 400. A model that fails validation (a
    taken name) is `unprocessable_entity!(errors)`: 422 `{"message": {field: [problems]}}`."""
    _, headers = await _admin(session, digester)
    response = await client.post(
        "/api/v1/teams", json={"name": "qa", "owner_id": "abc"}, headers=headers
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert isinstance(message, str)
    assert message.startswith("owner_id is invalid")
    first = await client.post("/api/v1/teams", json={"name": "qa"}, headers=headers)
    assert first.status_code == 201
    again = await client.post("/api/v1/teams", json={"name": "qa"}, headers=headers)
    assert again.status_code == 422
    assert again.json() == {"message": {"name": ["has already been taken"]}}


# --- 3. documented parameters are accepted -------------------------------------------------------
async def test_a_repository_update_accepts_the_name_and_ignores_it(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's `PUT /api/v1/repositories/:id` takes a `repository` hash, reads its
    description and ignores what else a client sends (Grape keeps undeclared keys out of
    `permitted_params`), such as the repository's `name`."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    namespace = await factories.create_namespace(session, registry, name="qa")
    repository, _ = await _repository_with_tag(session, namespace)
    response = await client.put(
        f"/api/v1/repositories/{repository.id}",
        json={"repository": {"name": "renamed", "description": "the app"}},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "app"
    assert response.json()["description"] == "the app"


async def test_a_team_deletion_reads_new_team_from_the_body_too(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's `DELETE /api/v1/teams/:id` declares `optional :new_team` (`lib/api/v1/
    teams.rb`), which Grape reads from the query or the body alike."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    old = await factories.create_namespace(session, registry, name="old")
    new = await factories.create_namespace(session, registry, name="new")
    new_team = await client.get(f"/api/v1/namespaces/{new.id}", headers=headers)
    response = await client.request(
        "DELETE",
        f"/api/v1/teams/{old.team_id}",
        json={"new_team": new_team.json()["team"]["name"]},
        headers=headers,
    )
    assert response.status_code == 204, response.text
    moved = await client.get(f"/api/v1/namespaces/{old.id}", headers=headers)
    assert moved.json()["team"]["id"] == new.team_id


# --- 4. routes -----------------------------------------------------------------------------------
async def test_a_repository_tag_is_shown_by_its_id(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus 2.4 has `GET /api/v1/repositories/:id/tags/:tag_id` (`lib/api/v1/
    repositories.rb`), next to `GET /namespaces/:id/repositories` and
    `GET /teams/:id/namespaces`."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    namespace = await factories.create_namespace(session, registry, name="qa")
    repository, tag = await _repository_with_tag(session, namespace)
    other, other_tag = await _repository_with_tag(session, namespace, "other")
    shown = await client.get(f"/api/v1/repositories/{repository.id}/tags/{tag.id}", headers=headers)
    assert shown.status_code == 200, shown.text
    assert (shown.json()["id"], shown.json()["name"]) == (tag.id, "latest")
    elsewhere = await client.get(
        f"/api/v1/repositories/{repository.id}/tags/{other_tag.id}", headers=headers
    )
    assert elsewhere.status_code == 404
    repositories = await client.get(
        f"/api/v1/namespaces/{namespace.id}/repositories", headers=headers
    )
    assert {r["id"] for r in repositories.json()} == {repository.id, other.id}
    namespaces = await client.get(f"/api/v1/teams/{namespace.team_id}/namespaces", headers=headers)
    assert [n["id"] for n in namespaces.json()] == [namespace.id]


# --- 5. the registry ping ------------------------------------------------------------------------
async def test_v2_ping_is_200_with_a_password_or_an_application_token(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus routes `GET /v2/` to a ping that needs an authenticated user (ref §3) and answers
    200; HTTP Basic takes a password or an application token, as `/v2/token` does."""
    alice = await factories.create_user(session, username="alice")
    token = (await token_headers(session, digester, alice))["Portus-Auth"].split(":", 1)[1]
    with_password = await client.get("/v2/", headers=basic("alice", PASSWORD))
    assert with_password.status_code == 200, with_password.text
    with_token = await client.get("/v2/", headers=basic("alice", token))
    assert with_token.status_code == 200, with_token.text


async def test_v2_ping_is_401_with_a_basic_challenge_otherwise(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    """Portus's ping answers 401 without a signed-in user, with Devise's
    `WWW-Authenticate: Basic` challenge (ref §3)."""
    await factories.create_user(session, username="alice")
    for headers in ({}, basic("alice", "wrong password"), basic("nobody", PASSWORD)):
        response = await client.get("/v2/", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    token = await client.get("/v2/token", params={"service": factories.REGISTRY_HOST})
    assert token.status_code == 200  # the token endpoint below /v2/ is untouched


# --- 6. the `*` action ---------------------------------------------------------------------------
async def test_a_star_scope_is_answered_with_star_when_every_action_is_allowed(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    """Portus checks `*` as the permission `all` and keeps `*` in the token when it is allowed
    (ref §3.2); registries up to 2.6 ask for `*` to delete a manifest. Where not every action
    is allowed (a contributor, without `delete.contributors`), the actions held."""
    registry = await factories.create_registry(session)
    alice = await factories.create_user(session, username="alice")
    await factories.create_namespace(
        session, registry, name="qa", members={alice.id: Role.contributor}
    )
    response = await client.get(
        "/v2/token",
        params=[
            ("service", factories.REGISTRY_HOST),
            ("scope", "repository:alice/app:*"),
            ("scope", "repository:qa/app:*"),
        ],
        headers=basic("alice", PASSWORD),
    )
    assert response.status_code == 200, response.text
    assert access(response.json()["token"]) == {
        "repository:alice/app": ["*"],
        "repository:qa/app": ["pull", "push"],
    }


# --- 7. teams and registries ---------------------------------------------------------------------
async def test_adding_an_unknown_user_to_a_team_is_a_404_naming_them(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's `POST /api/v1/teams/:id/members` looks the user up with `find_by!`, so an
    unknown username is a `RecordNotFound`: 404."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    namespace = await factories.create_namespace(session, registry, name="qa")
    response = await client.post(
        f"/api/v1/teams/{namespace.team_id}/members",
        json={"user": "ghost", "role": "viewer"},
        headers=headers,
    )
    assert response.status_code == 404
    assert "ghost" in response.json()["message"]


async def test_deleting_a_team_for_an_unknown_new_team_is_a_404_naming_it(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's `DELETE /api/v1/teams/:id` runs `Team.find_by!(name: params[:new_team])`
    (`lib/api/v1/teams.rb`): an unknown team is a 404, and nothing is deleted."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    namespace = await factories.create_namespace(session, registry, name="qa")
    response = await client.delete(
        f"/api/v1/teams/{namespace.team_id}", params={"new_team": "ghosts"}, headers=headers
    )
    assert response.status_code == 404
    assert "ghosts" in response.json()["message"]
    assert (await client.get(f"/api/v1/teams/{namespace.team_id}", headers=headers)).is_success


async def test_changing_a_hidden_team_is_a_403(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's team policy refuses `update?`, `destroy?` and member changes on a hidden team
    (a personal namespace's team) with Pundit's NotAuthorized: 403 (ref §6.2)."""
    await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    alice = await factories.create_user(session, username="alice")
    personal = await session.get(Namespace, alice.namespace_id)
    assert personal is not None
    team = f"/api/v1/teams/{personal.team_id}"
    changes = [
        await client.put(team, json={"team": {"name": "mine"}}, headers=headers),
        await client.post(
            f"{team}/members", json={"user": "root", "role": "viewer"}, headers=headers
        ),
        await client.delete(team, headers=headers),
    ]
    assert [response.status_code for response in changes] == [403, 403, 403]


async def test_registry_validation_checks_the_name_as_well_as_the_hostname(
    session: AsyncSession, digester: TokenDigester, client: httpx.AsyncClient
) -> None:
    """Portus's `GET /api/v1/registries/validate` requires `name`, `hostname` and `use_ssl`
    and validates the registry as a whole (`lib/api/v1/registries.rb`): a taken name is in the
    `messages` next to the hostname's reachability."""
    registry = await factories.create_registry(session)
    _, headers = await _admin(session, digester)
    response = await client.get(
        "/api/v1/registries/validate",
        params={"name": registry.name, "hostname": "127.0.0.1:1", "use_ssl": "false"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is False
    assert body["messages"]["name"] == ["has already been taken"]
    assert body["messages"]["hostname"]
    free = await client.get(
        "/api/v1/registries/validate",
        params={"name": "another", "hostname": "127.0.0.1:1", "only[]": "name"},
        headers=headers,
    )
    assert free.json() == {"valid": True, "messages": {}}
